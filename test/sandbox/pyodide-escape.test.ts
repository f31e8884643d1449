import { spawn } from 'node:child_process';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { createCodingEnvDefinition } from '../../envs/coding_env/index.js';
import { DEFAULT_LIMITS } from '../../sandbox/index.js';
import { sandboxCommand } from '../../sandbox/process/command.js';
import { SANDBOX_UID_BASE } from '../../sandbox/process/uid-pool.js';
import { createPyodideBackend, pyodideGuest } from '../../sandbox/pyodide/pyodide-backend.js';
import { request, startTestServer } from '../fixtures/test-server.js';

const HOSTILE_GUEST = fileURLToPath(new URL('../fixtures/hostile-guest.mjs', import.meta.url));

const backend = await createPyodideBackend();
const namespaces = backend.isolation === 'namespaces';
const noNamespaces = namespaces
  ? false
  : `SKIPPED LOUDLY: no namespaces on this host (${backend.isolationReason ?? 'unknown reason'}): the network wall is missing, so the network checks cannot pass; install bubblewrap and allow user namespaces`;

/**
 * Run the hostile guest with exactly the command line a Pyodide sandbox gets, as if code had escaped
 * from Python into the guest's JavaScript, and return its report.
 */
async function runHostileGuest(hostile: { port: number; serverPid: number }): Promise<Record<string, string>> {
  const guest = pyodideGuest(DEFAULT_LIMITS, 'serve', false, HOSTILE_GUEST);
  const withTarget = {
    ...guest,
    argv: (at: (path: string) => string) => {
      const argv = [...guest.argv(at)];
      argv[argv.length - 1] = JSON.stringify({ ...JSON.parse(argv.at(-1)!), hostile });
      return argv;
    },
  };
  const scratchDir = await mkdtemp(join(tmpdir(), 'envbox-hostile-'));
  const uid = process.getuid?.() === 0 ? SANDBOX_UID_BASE + 4000 : undefined;
  try {
    if (uid !== undefined) await chown(scratchDir, uid, uid);
    const [program, ...args] = sandboxCommand({
      guest: withTarget,
      isolation: backend.isolation,
      procMount: false,
      scratchDir,
      tmpBytes: DEFAULT_LIMITS.tmpBytes,
      uid,
      reportPid: false,
    });
    // The server's whole environment, secret included, is handed to the spawn: the command itself
    // must keep it from the guest.
    const child = spawn(program!, args, { env: { ...process.env, ENVBOX_ESCAPE_SECRET: 'hunter2' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    const line = stdout.trim().split('\n').at(-1) ?? '';
    if (!line.startsWith('{')) throw new Error(`the hostile guest gave no report (exit ${code}): ${stderr.slice(-800)}`);
    return JSON.parse(line) as Record<string, string>;
  } finally {
    await rm(scratchDir, { recursive: true, force: true });
  }
}

t.test('assuming JavaScript execution in the guest: no programs, host files, environment or network', async (t) => {
  let connections = 0;
  const server = createServer((_, response) => response.end('ok'));
  server.on('connection', () => (connections += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as { port: number }).port;

  const report = await runHostileGuest({ port, serverPid: process.pid });
  t.comment(JSON.stringify(report, null, 1));
  for (const [name, outcome] of Object.entries(report)) {
    if (name === 'process.env' || (!namespaces && /tcp|fetch|udp/.test(name))) continue;
    t.notMatch(outcome, /^ok:/, `${name} fails (${outcome})`);
  }
  // The walls that stop each, not just "something failed".
  t.match(report['spawnSync /usr/bin/id'], /^ERR_ACCESS_DENIED/, 'the permission model refuses child processes');
  t.match(report['execFileSync /bin/sh'], /^ERR_ACCESS_DENIED/);
  t.match(report['read /etc/passwd'], /^ERR_ACCESS_DENIED/, 'host files are not readable');
  t.match(report['read /proc/self/environ'], /^ERR_ACCESS_DENIED/);
  t.match(report['write /tmp/owned'], /^ERR_ACCESS_DENIED/, 'nothing is writable');
  t.match(report['write /workspace/owned'], /^ERR_ACCESS_DENIED/);
  const environment = JSON.parse(report['process.env']!) as Record<string, string>;
  t.same(Object.keys(environment).filter((name) => name !== 'HOME' && name !== 'PWD'), [], 'nothing of the server’s environment, though the spawner passed it all');
  t.notMatch(report['process.env'], /hunter2/);
  t.match(report['process.binding spawn_sync'], /^ERR_ACCESS_DENIED/);
  t.match(report['eval'], /^EvalError/, 'no code from strings');
  t.match(report['new Function'], /^EvalError/);
  t.match(report['signal the server'], /^(ESRCH|EPERM)/, 'the server cannot be signalled');
  t.match(report['allocate 4 GiB of ArrayBuffers'], /RangeError|ERR_MEMORY_ALLOCATION_FAILED|ENOMEM/, 'RLIMIT_DATA bounds JavaScript allocations');
  t.test('the network is the sandbox’s own', { skip: noNamespaces }, async (t) => {
    t.match(report['tcp to the server port'], /^ECONNREFUSED/, 'the loopback is the sandbox’s own: nothing listens there');
    t.match(report['fetch the server /health'], /ECONNREFUSED|fetch failed/);
    t.match(report['fetch 169.254.169.254'], /ENETUNREACH|fetch failed/);
    t.match(report['tcp to 10.0.0.1:80'], /^ENETUNREACH/);
    t.match(report['udp to 8.8.8.8'], /^ENETUNREACH/);
    t.equal(connections, 0, 'the server saw no connection');
  });
});

/** Find Pyodide's own modules through the garbage collector, as an attacker would (they are hidden from import). */
const FIND_MODULES = `import gc
mods = {o.__name__: o for o in gc.get_objects() if type(o).__name__ == 'module' and o.__name__.startswith(('pyodide', '_pyodide', 'js'))}
sorted(mods)`;

/** Each route from Python to the JavaScript realm of the guest, and how it must end. */
const ROUTES: { name: string; code: string; stderr: RegExp }[] = [
  { name: 'import js', code: 'import js\njs.process.env', stderr: /ModuleNotFoundError: No module named 'js'/ },
  { name: 'import pyodide_js', code: "import pyodide_js\npyodide_js.mountNodeFS('/mnt', '/etc')", stderr: /ModuleNotFoundError: No module named 'pyodide_js'/ },
  { name: 'pyodide.code.run_js by import', code: "from pyodide.code import run_js\nrun_js('process')", stderr: /ModuleNotFoundError: No module named 'pyodide\.code'/ },
  // run_js imports `js` on its way, which is hidden; past that, the code-generation wall stands (next route).
  { name: 'run_js found by gc', code: "mods['pyodide.code'].run_js('process.env')", stderr: /ModuleNotFoundError: No module named 'js'/ },
  {
    name: 'a JS proxy’s constructor.constructor',
    code: "mods['pyodide.ffi'].to_js({}).constructor.constructor('return process')()",
    stderr: /EvalError: Code generation from strings disallowed/,
  },
  { name: 'ctypes to emscripten_run_script_string', code: "import ctypes\nctypes.CDLL(None).emscripten_run_script_string(b'process.pid')", stderr: /PermissionError: envbox: ctypes\.dlopen is not allowed/ },
  { name: 'os.system', code: "import os\nos.system('id')", stderr: /PermissionError: envbox: os\.system is not allowed/ },
  { name: 'subprocess', code: "import subprocess\nsubprocess.run(['id'])", stderr: /PermissionError|OSError|RuntimeError|NotImplementedError/ },
  { name: 'the host’s /etc/passwd', code: "open('/etc/passwd').read()", stderr: /FileNotFoundError/ },
];

t.test('every route from Python to the JavaScript realm fails, and other episodes are untouched', async (t) => {
  const definition = await createCodingEnvDefinition({ pythonBackend: 'pyodide', poolSize: 2 });
  const server = await startTestServer(t, {}, definition);
  const session = async (): Promise<string> => (await request(server, 'POST', '/sessions')).body.session_id as string;
  const victim = await session();
  const attacker = await session();
  const step = (id: string, code: string) => request(server, 'POST', '/step', { action: { code } }, { 'x-session-id': id });
  await request(server, 'POST', '/reset', {}, { 'x-session-id': victim });
  await request(server, 'POST', '/reset', {}, { 'x-session-id': attacker });
  t.equal((await step(victim, 'secret = 42')).body.observation.exit_code, 0);

  const found = await step(attacker, FIND_MODULES);
  t.match(found.body.observation.metadata.result, /'pyodide\.code'/, 'the attacker reaches Pyodide’s modules through gc');
  for (const route of ROUTES) {
    const { body } = await step(attacker, route.code);
    t.equal(body.observation.exit_code, 1, `${route.name}: exit 1`);
    t.match(body.observation.stderr, route.stderr, `${route.name}: ${route.stderr}`);
  }
  t.equal((await step(attacker, 'mods is not None')).body.observation.metadata.result, 'True', 'the attacker’s own episode survives its failures');
  t.equal((await step(victim, 'secret')).body.observation.metadata.result, '42', 'the other episode keeps its state');
  const health = await request(server, 'GET', '/health');
  t.equal(health.status, 200);
  t.equal(health.body.status, 'healthy');
});
