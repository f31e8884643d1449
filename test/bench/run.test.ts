import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import t from 'tap';
import { BENCH_ENVS, CODING_ENV_POOL_SIZE } from '../../bench/bench-envs.js';
import { ENVIRONMENTS } from '../../envs/index.js';
import { ROOT } from '../fixtures/cli-process.js';

const run = promisify(execFile);

// The harness must keep working; its numbers are reported, never asserted (speed belongs in bench/).
t.test('make bench --quick: the harness drives a real server over both transports and writes its results', async (t) => {
  const { stdout } = await run(process.execPath, [`${ROOT}dist/bench/run.js`, '--env', 'echo_env', '--quick'], { cwd: ROOT });
  for (const transport of ['http', 'ws']) {
    for (const metric of ['reset latency', 'step latency', 'throughput x1', 'throughput x4', 'throughput x16']) {
      t.match(stdout, new RegExp(`${transport}\\s+${metric}`), `${transport} ${metric} row`);
    }
  }
  const results = JSON.parse(readFileSync(`${ROOT}bench/results/echo_env.quick.json`, 'utf8')) as {
    env: string;
    serveEnv: string;
    transports: { transport: string; throughput: { sessions: number }[] }[];
  };
  t.equal(results.env, 'echo_env');
  t.equal(results.serveEnv, 'echo_env');
  t.same(
    results.transports.map((r) => [r.transport, r.throughput.map((x) => x.sessions)]),
    [
      ['http', [1, 4, 16]],
      ['ws', [1, 4, 16]],
    ],
  );
  t.notMatch(stdout, /\b[1-9]\d* errors\b/, 'no step failed');
});

// A quick run of coding_env_pyodide takes minutes (every settled reset and x16 window waits for
// Pyodide sandboxes to start), too long for the suite: its wiring is checked here, its sandbox case
// in pyodide-sandbox-case.test.ts, and `make bench` runs it for real.
t.test('every entry serves an environment the server knows', async (t) => {
  for (const [name, env] of Object.entries(BENCH_ENVS)) t.ok(Object.hasOwn(ENVIRONMENTS, env.serveEnv), `${name} serves ${env.serveEnv}`);
});

t.test('coding_env is measured on both Python backends, each pinned in the server arguments', async (t) => {
  const pool = ['--pool-size', String(CODING_ENV_POOL_SIZE)];
  const processEnv = BENCH_ENVS.coding_env!;
  t.equal(processEnv.serveEnv, 'coding_env');
  t.same(processEnv.serverArgs, ['--python-backend', 'process', ...pool]);
  t.same(processEnv.targets, { stepP50MaxMs: 0.3, resetP50MaxMs: 5, throughputMinStepsPerS: 5000, throughputSessions: 16 });
  t.same(
    processEnv.cases.map((c) => c.name),
    ['cpu-bound step', 'mcp run_code', 'episodes/s (python)', 'cpu between steps (python)', 'judging'],
  );

  const pyodideEnv = BENCH_ENVS.coding_env_pyodide!;
  t.equal(pyodideEnv.serveEnv, 'coding_env');
  t.same(pyodideEnv.serverArgs, ['--python-backend', 'pyodide', ...pool]);
  t.same(pyodideEnv.targets, { stepP50MaxMs: 0.5, resetP50MaxMs: 20, throughputMinStepsPerS: 2000, throughputSessions: 16 });
  t.same(
    pyodideEnv.cases.map((c) => c.name),
    ['cpu-bound step (sum of squares)', 'cpu-bound step (mixed)', 'pyodide sandbox', 'episodes/s (python)'],
  );
  t.type(pyodideEnv.settle, 'function', 'waits for the warm pool to refill');
  t.same(pyodideEnv.sampleAction, { code: 'print(1)' });
});

t.test('coding_env_javascript measures fresh JavaScript episodes and their CPU between steps', async (t) => {
  t.same(
    BENCH_ENVS.coding_env_javascript!.cases.map((c) => c.name),
    ['idle JavaScript episodes', 'episodes/s (javascript)', 'cpu between steps (javascript)'],
  );
});

t.test('--cases-only skips the per-transport rows and writes <env>.cases.quick.json', async (t) => {
  const { stdout } = await run(process.execPath, [`${ROOT}dist/bench/run.js`, '--env', 'echo_env', '--quick', '--cases-only'], { cwd: ROOT });
  t.match(stdout, 'the extra cases only (--cases-only): no per-transport rows');
  t.notMatch(stdout, /step latency/);
  const results = JSON.parse(readFileSync(`${ROOT}bench/results/echo_env.cases.quick.json`, 'utf8')) as { env: string; transports: unknown[] };
  t.equal(results.env, 'echo_env');
  t.same(results.transports, []);
});

t.test('run.js names every entry in its usage and refuses an unknown one with exit code 2', async (t) => {
  const { stdout } = await run(process.execPath, [`${ROOT}dist/bench/run.js`, '--help'], { cwd: ROOT });
  t.match(stdout, 'echo_env, coding_env, coding_env_cold, coding_env_pyodide');
  await t.rejects(run(process.execPath, [`${ROOT}dist/bench/run.js`, '--env', 'coding_env_jython'], { cwd: ROOT }), {
    code: 2,
    stderr: /invalid --env: expected one of echo_env, coding_env, coding_env_cold, coding_env_pyodide, coding_env_javascript, received "coding_env_jython"/,
  });
});
