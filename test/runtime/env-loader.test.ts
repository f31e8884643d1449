import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import WebSocket from 'ws';
import { ENVIRONMENTS } from '../../envs/index.js';
import { EnvLoadError, EXIT_USAGE, loadEnvironment, runCli, validateCommand, type CliContext, type CliOutcome } from '../../runtime/index.js';

// Environments written outside envbox import it as a creator's package does: the built package.
const ENVBOX = JSON.stringify(new URL('../../dist/index.js', import.meta.url).href);
const ZOD = JSON.stringify(new URL('../../node_modules/zod/index.js', import.meta.url).href);

/** A counter environment as a creator writes it: a factory with one option of its own. */
const COUNTER = `
import { randomUUID } from 'node:crypto';
import { z } from ${ZOD};
import { Action, Observation, State, envOption } from ${ENVBOX};
const CounterAction = Action.extend({ n: z.number().int() }).meta({ examples: [{ n: 2 }] });
const CounterObservation = Observation.extend({ total: z.number() });
const CounterState = State.extend({ total: z.number() });
export default {
  options: z.object({ start: envOption(z.coerce.number().int().default(0), { help: 'the total a new episode starts from', expected: 'an integer' }) }),
  create: (options) => ({
    name: 'counter', description: 'Adds each action to a total.', version: '1.2.3',
    action: CounterAction, observation: CounterObservation, state: CounterState,
    create: () => {
      let total = options.start, steps = 0, id = randomUUID();
      return {
        reset: (request) => { total = options.start; steps = 0; id = request.episode_id ?? randomUUID(); return { total, done: false, reward: 0, metadata: {} }; },
        step: (action) => {
          if (action.n === 13) throw new Error('unlucky thirteen: a bug of the environment');
          total += action.n; steps += 1; return { total, done: false, reward: action.n, metadata: {} };
        },
        state: () => ({ episode_id: id, step_count: steps, total }),
        close() {},
      };
    },
  }),
};
`;

function cli(cwd: string, env: NodeJS.ProcessEnv = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: string[] = [];
  const err: string[] = [];
  stdout.on('data', (chunk: Buffer) => out.push(chunk.toString()));
  stderr.on('data', (chunk: Buffer) => err.push(chunk.toString()));
  const ctx: CliContext = { registry: ENVIRONMENTS, version: '9.9.9', env, stdout, stderr, cwd, commands: { validate: validateCommand } };
  return { ctx, out: () => out.join(''), err: () => err.join('') };
}

async function serve(t: { teardown(fn: () => unknown): void }, cwd: string, argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ url: string; outcome: CliOutcome; err: () => string }> {
  const { ctx, err } = cli(cwd, env);
  const outcome = await runCli(['serve', '--port', '0', '--log-level', 'error', ...argv], ctx);
  if (!('server' in outcome)) throw new Error(`did not serve: ${err()}`);
  t.teardown(() => outcome.server.close());
  return { url: outcome.server.url, outcome, err };
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; headers: Headers }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: response.status, json: await response.json(), headers: response.headers };
}

t.test('serve --env <path>: a module file, a package directory, an installed package, a bare directory', async (t) => {
  const dir = t.testdir({
    'counter.mjs': COUNTER,
    pkg: { 'package.json': JSON.stringify({ name: 'counter-pkg', type: 'module', exports: { '.': { import: './dist/index.js' } } }), dist: { 'index.js': COUNTER } },
    node_modules: { 'counter-installed': { 'package.json': JSON.stringify({ name: 'counter-installed', type: 'module', main: 'lib/main.js' }), lib: { 'main.js': COUNTER } } },
    bare: { 'index.js': COUNTER, 'package.json': JSON.stringify({ type: 'module' }) },
  });
  for (const spec of ['./counter.mjs', './pkg', `${dir}/pkg`, 'counter-installed', 'bare']) {
    const loaded = await loadEnvironment(spec, dir);
    t.ok(loaded.file.startsWith(dir), `${spec} → ${loaded.file}`);
    const definition = await loaded.factory.create({ start: 5 } as never, { logger: console });
    t.equal(definition.name, 'counter', `${spec}: the definition it exports`);
  }
  // From the working directory's parent, the installed package is found the way Node finds it.
  t.match((await loadEnvironment('counter-installed', `${dir}/pkg/dist`)).file, /node_modules\/counter-installed\/lib\/main\.js$/);

  const { url } = await serve(t, dir, ['--env', './pkg', '--start', '10']);
  t.equal(((await (await fetch(`${url}/metadata`)).json()) as { name: string }).name, 'counter');
  const reset = await post(`${url}/reset`, {});
  t.equal(reset.json.observation.total, 10, 'the option --start reached the environment');
  const step = await post(`${url}/step`, { action: { n: 3 } });
  t.same([step.json.observation.total, step.json.reward], [13, 3]);
});

t.test("a loaded environment's options are flags and ENVBOX_* variables, shown in --help", async (t) => {
  const dir = t.testdir({ 'counter.mjs': COUNTER });
  const help = cli(dir);
  t.equal(await runCli(['--env', './counter.mjs', '--help'], help.ctx).then((o) => ('exitCode' in o ? o.exitCode : -1)), 0);
  t.match(help.out(), /Options of --env \.\/counter\.mjs:\n\s+--start\s+ENVBOX_START\s+the total a new episode starts from/);
  const { url } = await serve(t, dir, ['--env', './counter.mjs'], { ENVBOX_START: '7' });
  t.equal((await post(`${url}/reset`, {})).json.observation.total, 7, 'ENVBOX_START');
  const bad = cli(dir);
  t.same(await runCli(['serve', '--env', './counter.mjs', '--start', 'many'], bad.ctx), { exitCode: EXIT_USAGE });
  t.match(bad.err(), /invalid --start: expected an integer, received "many"/);
  // ENVBOX_ENV names it as well as --env.
  const viaVariable = await serve(t, dir, [], { ENVBOX_ENV: './counter.mjs' });
  t.equal(((await (await fetch(`${viaVariable.url}/metadata`)).json()) as { name: string }).name, 'counter');
});

t.test('an environment that cannot be served: exit 2 and one line naming what is missing or wrong', async (t) => {
  const definitionBody = (fields: string): string =>
    `import { z } from ${ZOD};\nimport { Action, Observation, State } from ${ENVBOX};\nexport default { ${fields} };\n`;
  const complete = "name: 'x', description: 'd', version: '1', action: Action, observation: Observation, state: State, create: () => ({})";
  const dir = t.testdir({
    'no-default.mjs': 'export const definition = {};\n',
    'not-object.mjs': 'export default 42;\n',
    'no-observation.mjs': definitionBody(complete.replace('observation: Observation, ', '')),
    'action-not-zod.mjs': definitionBody(complete.replace('action: Action', "action: { type: 'object' }")),
    'no-create.mjs': definitionBody(complete.replace(', create: () => ({})', '')),
    'throws.mjs': "import './missing-helper.js';\n",
    'needs-package.mjs': "import 'a-package-not-installed';\n",
    'throws-itself.mjs': "throw new TypeError('the environment is broken at load');\n",
    'factory-throws.mjs': "export default { create() { throw new Error('no licence key'); } };\n",
    'factory-bad.mjs': "export default { create: () => ({ name: 'x' }) };\n",
    'clash.mjs': `import { z } from ${ZOD};\nimport { envOption } from ${ENVBOX};\nexport default { options: z.object({ port: envOption(z.string().default('a'), { help: 'h', expected: 'e' }) }), create: () => ({}) };\n`,
    'no-meta.mjs': `import { z } from ${ZOD};\nexport default { options: z.object({ level: z.string().default('a') }), create: () => ({}) };\n`,
    'source.ts': 'export default {};\n',
    'unbuilt': { 'package.json': JSON.stringify({ name: 'unbuilt', type: 'module', main: 'dist/index.js' }) },
    'bad-json': { 'package.json': '{ "name": ' },
    'empty-dir': {},
  });
  const cases: [string, RegExp][] = [
    ['./missing.mjs', /cannot load --env \.\/missing\.mjs: .*missing\.mjs does not exist/],
    ['not-a-package', /no package not-a-package is installed under .*, and no file or directory .* exists/],
    ['./no-default.mjs', /no-default\.mjs has no default export; export default an environment definition/],
    ['./not-object.mjs', /is not an environment definition .* or factory .*: expected an object, received number/],
    ['./no-observation.mjs', /is not an environment definition: missing observation \(a zod schema\)/],
    ['./action-not-zod.mjs', /is not an environment definition: wrong action \(a zod schema, received an object\)/],
    ['./no-create.mjs', /is not an environment definition: missing create \(a function\)/],
    ['./throws.mjs', /throws\.mjs threw while loading: Cannot find module .*missing-helper\.js/],
    ['./needs-package.mjs', /threw while loading: Cannot find package 'a-package-not-installed' .*; run npm install in the package first/],
    ['./throws-itself.mjs', /threw while loading: the environment is broken at load/],
    ['./factory-throws.mjs', /the factory of .*factory-throws\.mjs threw: no licence key/],
    ['./factory-bad.mjs', /what the factory of .*factory-bad\.mjs created is not an environment definition: missing description/],
    ['./clash.mjs', /declares option --port, which is an option of the server; rename it/],
    ['./no-meta.mjs', /declares options badly: Option level of the environment has no envOption\(\) metadata/],
    ['./source.ts', /source\.ts is TypeScript; build the package first \(npm run build\)/],
    ['./unbuilt', /the package's entry .*unbuilt\/dist\/index\.js does not exist; build it first \(npm run build\)/],
    ['./bad-json', /bad-json\/package\.json is not valid JSON/],
    ['./empty-dir', /empty-dir is a directory with neither a package\.json nor an index\.js/],
  ];
  for (const [spec, expected] of cases) {
    const run = cli(dir);
    const outcome = await runCli(['serve', '--env', spec, '--port', '0'], run.ctx);
    if ('server' in outcome) await outcome.server.close();
    t.same(outcome, { exitCode: EXIT_USAGE }, `${spec}: exit 2`);
    t.match(run.err(), expected, spec);
    if (spec !== 'not-a-package') t.equal(run.err().trimEnd().split('\n').length, 1, `${spec}: one line, no stack trace`);
    t.notMatch(run.err(), /\n\s+at /, `${spec}: no stack`);
    // validate <path> refuses it the same way.
    const validate = cli(dir);
    t.same(await runCli(['validate', spec], validate.ctx), { exitCode: EXIT_USAGE }, `validate ${spec}: exit 2`);
    t.match(validate.err(), expected, `validate ${spec}`);
  }
  await t.rejects(loadEnvironment('./no-default.mjs', dir), EnvLoadError);
});

t.test('an environment that throws in reset or step: 500 INTERNAL for that call, the cause logged, every session unharmed', async (t) => {
  const dir = t.testdir({ 'counter.mjs': COUNTER });
  const logs: string[] = [];
  const { ctx } = cli(dir);
  const stderr = new PassThrough();
  stderr.on('data', (chunk: Buffer) => logs.push(chunk.toString()));
  const outcome = await runCli(['serve', '--env', './counter.mjs', '--port', '0'], { ...ctx, stderr });
  if (!('server' in outcome)) throw new Error('did not serve');
  t.teardown(() => outcome.server.close());
  const url = outcome.server.url;
  // Two HTTP sessions and one WebSocket session, each with a total of its own.
  const a = (await post(`${url}/sessions`, {})).json.session_id as string;
  const b = (await post(`${url}/sessions`, {})).json.session_id as string;
  for (const [id, n] of [[a, 1], [b, 100]] as const) {
    await post(`${url}/reset`, {}, { 'x-session-id': id });
    await post(`${url}/step`, { action: { n } }, { 'x-session-id': id });
  }
  const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`);
  t.teardown(() => ws.close());
  const replies: any[] = [];
  ws.on('message', (data) => replies.push(JSON.parse(String(data))));
  await new Promise((resolve) => ws.once('open', resolve));
  const ask = async (message: unknown): Promise<any> => {
    const before = replies.length;
    ws.send(JSON.stringify(message));
    while (replies.length === before) await new Promise((resolve) => ws.once('message', resolve));
    return replies.at(-1);
  };
  await ask({ type: 'reset', data: {} });
  await ask({ type: 'step', data: { n: 5 } });

  const broken = await post(`${url}/step`, { action: { n: 13 } }, { 'x-session-id': a });
  t.equal(broken.status, 500);
  t.equal(broken.json.error.code, 'INTERNAL');
  t.notMatch(JSON.stringify(broken.json), /unlucky/, "the environment's message stays in the log");
  const wsBroken = await ask({ type: 'step', data: { n: 13 } });
  t.equal(wsBroken.type, 'error');
  t.equal(wsBroken.data.code, 'INTERNAL');

  // The failing session goes on from where it was, and so does every other one.
  t.equal((await post(`${url}/step`, { action: { n: 1 } }, { 'x-session-id': a })).json.observation.total, 2);
  t.equal((await post(`${url}/step`, { action: { n: 1 } }, { 'x-session-id': b })).json.observation.total, 101);
  t.equal((await ask({ type: 'step', data: { n: 1 } })).data.observation.total, 6);
  t.equal(((await (await fetch(`${url}/health`)).json()) as { status: string }).status, 'healthy');
  const failures = logs.join('').split('\n').filter((line) => line.includes('unlucky thirteen'));
  t.same(failures.map((line) => (JSON.parse(line) as { path: string }).path).sort(), ['/step', '/ws'], 'the cause of each failure is in the log');
});

t.test('validate <path | name>: serves the environment on a free port and runs the kit', async (t) => {
  const dir = t.testdir({ 'counter.mjs': COUNTER });
  const run = cli(dir);
  t.same(await runCli(['validate', './counter.mjs'], run.ctx), { exitCode: 0 }, run.out());
  t.match(run.out(), /^serving \.\/counter\.mjs \(counter\) at http:\/\/127\.0\.0\.1:\d+ for the checks/);
  t.match(run.out(), /valid: http:\/\/127\.0\.0\.1:\d+ \(counter 1\.2\.3\): 19 of 19 checks passed/);
  const json = cli(dir);
  t.same(await runCli(['validate', 'echo_env', '--json'], json.ctx), { exitCode: 0 });
  const report = JSON.parse(json.out());
  t.match(report, { passed: true, env: { name: 'echo_env' } });
  t.ok(fileURLToPath(new URL('.', import.meta.url)));
});
