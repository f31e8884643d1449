import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import t from 'tap';
import { createProcessBackend, DEFAULT_LIMITS, EXIT_OK } from '../../sandbox/index.js';
import { testNoSandboxOutlivesClose, trackSpawnedProcesses } from '../fixtures/sandbox-processes.js';
import { listenForConnections, run, sandboxOf, sandboxSuite, value } from './sandbox-suite.js';

const exec = promisify(execFile);

/** Every child process this file starts; the last test checks no sandbox process outlived its close(). */
const spawned = trackSpawnedProcesses();

const backend = await createProcessBackend();
const noNamespaces =
  backend.isolation === 'namespaces'
    ? false
    : `SKIPPED LOUDLY: the sandboxes here get no namespaces (${backend.isolationReason ?? 'unknown reason'}); install bubblewrap and allow user namespaces`;

t.test('the backend is the process backend', async (t) => {
  t.equal(backend.backend, 'process');
});

sandboxSuite(t, { backend, create: createProcessBackend });

t.test('the interpreter sets its own rlimits, as the resource module shows', async (t) => {
  const sandbox = await sandboxOf(t, backend);
  t.equal(await value(t, sandbox, 'import resource; resource.getrlimit(resource.RLIMIT_NOFILE)'), `(${DEFAULT_LIMITS.openFiles}, ${DEFAULT_LIMITS.openFiles})`);
  t.equal(
    await value(t, sandbox, 'resource.getrlimit(resource.RLIMIT_AS)'),
    `(${DEFAULT_LIMITS.addressSpaceBytes}, ${DEFAULT_LIMITS.addressSpaceBytes})`,
  );
  t.equal(await value(t, sandbox, 'resource.getrlimit(resource.RLIMIT_FSIZE)'), `(${DEFAULT_LIMITS.fileSizeBytes}, ${DEFAULT_LIMITS.fileSizeBytes})`);
});

t.test('isolation: subprocesses, when allowed, get no network either', { skip: noNamespaces }, async (t) => {
  const { port, server, connections } = await listenForConnections(t);
  const open = await createProcessBackend({ allowSubprocess: true });
  t.equal(open.allowSubprocess, true);
  const child = await sandboxOf(t, open);
  const probe = `import subprocess\nr = subprocess.run(['/usr/bin/python3', '-c', 'import socket; socket.create_connection(("127.0.0.1", ${port}), timeout=1)'], capture_output=True, text=True)\n(r.returncode, r.stderr.strip().splitlines()[-1])`;
  const result = await run(child, probe);
  t.equal(result.exitCode, EXIT_OK, `the probe ran (stderr: ${result.stderr})`);
  t.match(result.result, /^\(1, '(ConnectionRefusedError|OSError): \[Errno (101|111)\] (Network is unreachable|Connection refused)'\)$/, 'the network namespace refuses');
  t.equal(connections(), 0, 'no connection reached the host');

  const accepted = once(server, 'connection');
  const control = connect(port, '127.0.0.1');
  await Promise.all([once(control, 'connect'), accepted]);
  control.destroy();
  t.equal(connections(), 1, 'the host itself reaches the port: the refusal was the namespace');
});

t.test('isolation: a process bomb stops at RLIMIT_NPROC and only hurts its own uid', { skip: noNamespaces }, async (t) => {
  const open = await createProcessBackend({ allowSubprocess: true });
  const bomb = await sandboxOf(t, open);
  const result = await run(
    bomb,
    "import subprocess\nps = []\nfor i in range(200):\n    try:\n        ps.append(subprocess.Popen(['/usr/bin/sleep', '30']))\n    except OSError as e:\n        print('blocked', e)\n        break\nlen(ps)",
  );
  t.equal(result.exitCode, EXIT_OK, result.stderr);
  t.match(result.stdout, /^blocked \[Errno 11\] Resource temporarily unavailable\n$/);
  t.ok(Number(result.result) < DEFAULT_LIMITS.processes!, `${result.result} processes, under RLIMIT_NPROC ${DEFAULT_LIMITS.processes}`);
  const neighbour = await sandboxOf(t, open);
  t.equal(await value(t, neighbour, "import subprocess; subprocess.run(['/usr/bin/true']).returncode"), '0', 'another sandbox can still start processes');
  const { stdout } = await exec('/usr/bin/echo', ['host is fine']);
  t.equal(stdout, 'host is fine\n', 'so can the host');
  t.equal(bomb.alive, true);
});

testNoSandboxOutlivesClose(t, spawned);
