import { readFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import { createProcessBackend, EXIT_OK, type PythonBackend, type Sandbox } from '../../../sandbox/index.js';
import { descendsFrom, listProcesses } from '../../fixtures/sandbox-processes.js';

// Issue 18: Python sandboxes forked from a template (sandbox/python/template.py). The sandbox
// contract, the escape corpus and the memory tests run against forked sandboxes (the process
// backend's default); these are the properties of forking itself: siblings that cannot reach each
// other, a template no guest can touch, a template that dies and comes back, and nothing of the
// template's setup left for a guest to use.

const STEP_MS = 30_000;

async function backendOf(t: Test, options: Parameters<typeof createProcessBackend>[0] = {}): Promise<PythonBackend> {
  const backend = await createProcessBackend(options);
  t.teardown(() => backend.close());
  return backend;
}

async function sandboxOf(t: Test, backend: PythonBackend): Promise<Sandbox> {
  const sandbox = await backend.create();
  t.teardown(() => sandbox.close());
  return sandbox;
}

async function out(t: Test, sandbox: Sandbox, code: string): Promise<string> {
  const result = await sandbox.run(code, { timeoutMs: STEP_MS });
  t.equal(result.exitCode, EXIT_OK, `${code.split('\n')[0]} ran: ${result.stderr}`);
  return result.stdout;
}

const probe = await createProcessBackend();
const facts = probe.health();
await probe.close();
const noTemplate =
  facts.spawn === 'template' ? false : `SKIPPED LOUDLY: sandboxes start cold here (${String(facts.spawn_reason ?? facts.isolation)}); the template needs namespaces`;

t.test('the backend forks its sandboxes from a template and says so in its health', { skip: noTemplate }, async (t) => {
  const backend = await backendOf(t);
  const health = backend.health();
  t.equal(health.spawn, 'template');
  t.equal(health.spawn_reason, 'forked from a template CPython');
  t.type(health.template_pid, 'number');
  const before = Number(health.template_forks);
  const sandbox = await sandboxOf(t, backend);
  t.equal(await out(t, sandbox, 'print(6 * 7)'), '42\n');
  t.equal(backend.health().template_forks, before + 1, 'each sandbox is one fork');
  t.equal(backend.health().template_fork_failures, 0);
});

t.test('a cold backend, asked for, starts each sandbox on its own', async (t) => {
  const backend = await backendOf(t, { spawn: 'cold' });
  t.equal(backend.health().spawn, 'cold');
  t.equal(backend.health().spawn_reason, 'asked for (spawn: cold)');
  t.equal(await out(t, await sandboxOf(t, backend), 'print(6 * 7)'), '42\n');
});

t.test('forked siblings do not see each other: processes, files, network', { skip: noTemplate }, async (t) => {
  // Subprocesses allowed: a sibling may then run a server of any kind, without the audit hook.
  const backend = await backendOf(t, { allowSubprocess: true });
  const a = await sandboxOf(t, backend);
  const b = await sandboxOf(t, backend);
  await out(t, a, "open('/tmp/secret-a', 'w').write('a'); open('/workspace/secret-a', 'w').write('a')");
  // A server on loopback TCP and one on an abstract unix socket, in a process of its own that
  // outlives the step (frozen between steps, but its listening sockets accept in the kernel).
  await out(
    t,
    a,
    `import subprocess, sys
server = subprocess.Popen([sys.executable, '-c', '''
import socket, time
tcp = socket.socket(); tcp.bind(("127.0.0.1", 47123)); tcp.listen()
unix = socket.socket(socket.AF_UNIX); unix.bind("\\\\0envbox-sibling"); unix.listen()
print("listening", flush=True)
time.sleep(3600)
'''], stdout=subprocess.PIPE)
print(server.stdout.readline().decode().strip())`,
  );
  // The guest's own sockets are refused by the audit hook; a subprocess of it has no hook.
  const connect = `import subprocess, sys
print(subprocess.run([sys.executable, '-c', '''
import socket
for family, address in ((socket.AF_INET, ("127.0.0.1", 47123)), (socket.AF_UNIX, "\\\\0envbox-sibling")):
    s = socket.socket(family)
    try:
        s.connect(address)
        print("connected")
    except OSError as e:
        print(type(e).__name__)
'''], capture_output=True, text=True).stdout, end='')`;
  t.equal(await out(t, a, connect), 'connected\nconnected\n', 'the episode reaches its own servers (the check is live)');
  const seen = await out(t, b, `import os\nprint(sorted(p for p in os.listdir('/proc') if p.isdigit()))\nprint(os.path.exists('/tmp/secret-a'), os.path.exists('/workspace/secret-a'))\n${connect}`);
  t.equal(seen, "['1']\nFalse False\nConnectionRefusedError\nConnectionRefusedError\n", 'B sees only itself: no process, file or socket of A');
});

t.test('a guest cannot signal the template or a sibling, and the template runs no guest code', { skip: noTemplate }, async (t) => {
  const backend = await backendOf(t);
  const a = await sandboxOf(t, backend);
  const b = await sandboxOf(t, backend);
  await out(t, b, 'x = "kept"');
  const template = Number(backend.health().template_pid);
  // Both guests' host pids: runner.py on their command lines, below the template (and a keeper each).
  const rows = await listProcesses();
  const siblings = rows.filter((row) => descendsFrom(rows, row.pid, template) && / \S*runner\.py /.test(` ${row.args} `) && !row.stat.startsWith('Z')).map((row) => row.pid);
  t.equal(siblings.length, 2, 'two forked guests on the host (A and B)');
  const hostPids = JSON.stringify([template, process.pid, ...siblings]);
  const tried = await out(
    t,
    a,
    `import os, signal
for pid in ${hostPids}:
    try:
        os.kill(pid, signal.SIGKILL)
        print(pid, 'killed')
    except OSError as e:
        print(type(e).__name__)`,
  );
  t.equal(tried, 'ProcessLookupError\n'.repeat(4), 'host pids (the template, the server, both guests) do not exist in its pid namespace');
  t.equal(backend.health().template_pid, template, 'the template lives on');
  t.equal(await out(t, b, 'print(x)'), 'kept\n', 'and so does the sibling, with its state');
});

t.test('nothing of the setup is left for a guest: no ctypes, no libc handle, no capabilities', { skip: noTemplate }, async (t) => {
  const backend = await backendOf(t);
  const sandbox = await sandboxOf(t, backend);
  const found = await out(
    t,
    sandbox,
    `import gc, sys
print(sorted(name for name in sys.modules if 'ctypes' in name))
print(sorted({type(o).__name__ for o in gc.get_objects() if type(o).__name__ in ('CDLL', 'PyDLL', '_FuncPtr', '_Libc') or type(o).__module__ == 'ctypes'}))
print([line.split()[1] for line in open('/proc/self/status') if line.startswith(('CapEff', 'CapPrm', 'CapBnd', 'NoNewPrivs'))])`,
  );
  t.equal(found, "[]\n[]\n['0000000000000000', '0000000000000000', '0000000000000000', '1']\n");
  // Its keeper (the template's child) kept none of the capabilities its unshare gave it either.
  const template = Number(backend.health().template_pid);
  const keepers = (await listProcesses()).filter((row) => row.ppid === template && !row.stat.startsWith('Z')).map((row) => row.pid);
  t.equal(keepers.length, 1, 'one keeper below the template');
  for (const pid of keepers) {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string): string | undefined => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(status)?.[1];
    t.same([field('CapEff'), field('CapPrm'), field('CapBnd'), field('NoNewPrivs')], ['0000000000000000', '0000000000000000', '0000000000000000', '1'], `keeper ${pid}: no capabilities, no new privileges`);
  }
  const imported = await sandbox.run('import ctypes\nctypes.CDLL(None)', { timeoutMs: STEP_MS });
  t.match(imported.stderr, /PermissionError: envbox: ctypes\.dlopen is not allowed in this sandbox/, 'ctypes imported again is refused as in a cold sandbox');
});

t.test('two forked episodes draw different random numbers', { skip: noTemplate }, async (t) => {
  const backend = await backendOf(t);
  const code = 'import random, os\nprint(random.random(), os.urandom(8).hex())';
  const a = await out(t, await sandboxOf(t, backend), code);
  const b = await out(t, await sandboxOf(t, backend), code);
  t.not(a, b, 'the random module is reseeded in every fork');
});

t.test('a template killed mid-burst is started again; every sandbox of the burst and those before live', { skip: noTemplate }, async (t) => {
  const backend = await backendOf(t);
  const before = await sandboxOf(t, backend);
  await out(t, before, 'x = 41');
  const template = Number(backend.health().template_pid);
  const burst = Array.from({ length: 12 }, () => backend.create());
  process.kill(template, 'SIGKILL');
  const sandboxes = await Promise.all(burst);
  t.teardown(() => Promise.all(sandboxes.map((sandbox) => sandbox.close())));
  for (const [index, sandbox] of sandboxes.entries()) t.equal(await out(t, sandbox, 'print(1)'), '1\n', `sandbox ${index} of the burst runs`);
  const health = backend.health();
  t.ok(Number(health.template_restarts) >= 1, `the template was started again (${health.template_restarts} restarts)`);
  t.not(health.template_pid, template, 'a new template');
  t.equal(await out(t, before, 'print(x + 1)'), '42\n', 'a sandbox forked before the kill keeps its state (its keeper is not the template)');
  t.equal(await out(t, await sandboxOf(t, backend), 'print(2)'), '2\n', 'and new sandboxes fork from the new template');
});
