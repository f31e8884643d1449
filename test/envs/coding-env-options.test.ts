import t from 'tap';
import { CodingEnvServeOptions, DEFAULT_LANGUAGE, DEFAULT_POOL_SIZE, LANGUAGE_NAMES } from '../../envs/coding_env/index.js';
import { ConfigError, envOptionSpecs, parseEnvOptions } from '../../runtime/index.js';
import { DEFAULT_MAX_OUTPUT_BYTES, DEFAULT_PYTHON_BACKEND, MIN_EPISODE_MEMORY_BUDGET_BYTES, PYTHON_BACKEND_CHOICES } from '../../sandbox/index.js';

// coding_env declares its own options (envs/coding_env/options.ts); `envbox serve` derives their
// flags, variables, help and messages from the schema (moved here from test/runtime/cli.test.ts).
const parse = (flags: Record<string, string | boolean>, env: NodeJS.ProcessEnv) => parseEnvOptions(CodingEnvServeOptions, flags, env);

t.test('coding_env options: defaults', async (t) => {
  t.same(parse({}, {}), {
    pythonBackend: 'auto',
    pythonSpawn: 'template',
    defaultLanguage: 'python',
    allowSubprocess: false,
    requireIsolation: false,
    poolSize: 4,
    maxOutputBytes: 1_048_576,
    reward: 'fraction',
    revealTests: false,
    judgeConcurrency: 4,
    maxEvaluateItems: 256,
  });
  t.equal(DEFAULT_PYTHON_BACKEND, 'auto', 'the process backend where the host\'s python3 serves, Pyodide otherwise');
  t.equal(DEFAULT_POOL_SIZE, 4);
  t.equal(DEFAULT_LANGUAGE, 'python');
  t.equal(DEFAULT_MAX_OUTPUT_BYTES, 1_048_576);
  t.same(
    envOptionSpecs(CodingEnvServeOptions).map(({ flag, variable, kind }) => [flag, variable, kind]),
    [
      ['python-backend', 'ENVBOX_PYTHON_BACKEND', 'string'],
      ['python-spawn', 'ENVBOX_PYTHON_SPAWN', 'string'],
      ['default-language', 'ENVBOX_DEFAULT_LANGUAGE', 'string'],
      ['allow-subprocess', 'ENVBOX_ALLOW_SUBPROCESS', 'boolean'],
      ['require-isolation', 'ENVBOX_REQUIRE_ISOLATION', 'boolean'],
      ['pool-size', 'ENVBOX_POOL_SIZE', 'int'],
      ['max-output-bytes', 'ENVBOX_MAX_OUTPUT_BYTES', 'int'],
      ['episode-memory-budget-bytes', 'ENVBOX_EPISODE_MEMORY_BUDGET_BYTES', 'int'],
      ['tasks', 'ENVBOX_TASKS', 'string'],
      ['reward', 'ENVBOX_REWARD', 'string'],
      ['reveal-tests', 'ENVBOX_REVEAL_TESTS', 'boolean'],
      ['judge-concurrency', 'ENVBOX_JUDGE_CONCURRENCY', 'int'],
      ['max-evaluate-items', 'ENVBOX_MAX_EVALUATE_ITEMS', 'int'],
    ],
    'each field is a kebab-case flag and an ENVBOX_ variable',
  );
  t.throws(() => parse({ 'max-output-bytes': '10' }, {}), new ConfigError('invalid --max-output-bytes: expected an integer number of bytes of at least 1024, received "10"'));
});

t.test('coding_env options: the episode memory budget (unset: derived from the memory limit by the backend)', async (t) => {
  t.equal(parse({}, {}).episodeMemoryBudgetBytes, undefined);
  t.equal(parse({ 'episode-memory-budget-bytes': '268435456' }, {}).episodeMemoryBudgetBytes, 268_435_456);
  t.equal(parse({}, { ENVBOX_EPISODE_MEMORY_BUDGET_BYTES: '33554432' }).episodeMemoryBudgetBytes, 33_554_432);
  t.throws(() => parse({ 'episode-memory-budget-bytes': '1000' }, {}), {
    message: `invalid --episode-memory-budget-bytes: expected an integer number of bytes of at least ${MIN_EPISODE_MEMORY_BUDGET_BYTES}, received "1000"`,
  });
  t.throws(() => parse({}, { ENVBOX_EPISODE_MEMORY_BUDGET_BYTES: 'lots' }), { message: /invalid ENVBOX_EPISODE_MEMORY_BUDGET_BYTES/ });
});

t.test('coding_env options: derived flags and variables, booleans as flags or variables', async (t) => {
  const flags = parse({ 'allow-subprocess': true, 'pool-size': '9', 'python-backend': 'process' }, {});
  t.match(flags, { allowSubprocess: true, requireIsolation: false, poolSize: 9, pythonBackend: 'process' });
  const vars = parse({}, { ENVBOX_REQUIRE_ISOLATION: 'true', ENVBOX_ALLOW_SUBPROCESS: '0', ENVBOX_MAX_OUTPUT_BYTES: '4096' });
  t.match(vars, { requireIsolation: true, allowSubprocess: false, maxOutputBytes: 4096 });
  t.same(PYTHON_BACKEND_CHOICES, ['auto', 'pyodide', 'process']);
  for (const name of PYTHON_BACKEND_CHOICES) {
    t.equal(parse({}, { ENVBOX_PYTHON_BACKEND: name }).pythonBackend, name, `ENVBOX_PYTHON_BACKEND=${name}`);
  }
  t.equal(parse({ 'python-backend': 'process' }, { ENVBOX_PYTHON_BACKEND: 'pyodide' }).pythonBackend, 'process', 'the flag wins');
  t.throws(() => parse({ 'python-backend': 'jython' }, {}), {
    message: /invalid --python-backend: expected one of auto, pyodide, process, received "jython"/,
  });
  t.same(LANGUAGE_NAMES, ['python', 'javascript']);
  t.equal(parse({ 'default-language': 'javascript' }, {}).defaultLanguage, 'javascript', '--default-language');
  t.equal(parse({}, { ENVBOX_DEFAULT_LANGUAGE: 'javascript' }).defaultLanguage, 'javascript', 'ENVBOX_DEFAULT_LANGUAGE');
  t.throws(() => parse({ 'default-language': 'ruby' }, {}), {
    message: /invalid --default-language: expected one of python, javascript, received "ruby"/,
  });
  t.throws(() => parse({}, { ENVBOX_REQUIRE_ISOLATION: 'maybe' }), {
    message: /invalid ENVBOX_REQUIRE_ISOLATION: expected true or false, received "maybe"/,
  });
});


t.test('coding_env options: the task set and the judge', async (t) => {
  t.match(parse({ tasks: 'tasks/', reward: 'all-or-nothing', 'reveal-tests': true, 'judge-concurrency': '8' }, { ENVBOX_MAX_EVALUATE_ITEMS: '64' }), {
    tasks: 'tasks/',
    reward: 'all-or-nothing',
    revealTests: true,
    judgeConcurrency: 8,
    maxEvaluateItems: 64,
  });
  t.throws(() => parse({ reward: 'half' }, {}), new ConfigError('invalid --reward: expected one of fraction, all-or-nothing, received "half"'));
  t.throws(() => parse({ 'judge-concurrency': '0' }, {}), new ConfigError('invalid --judge-concurrency: expected an integer from 1 to 256, received "0"'));
  t.throws(() => parse({}, { ENVBOX_MAX_EVALUATE_ITEMS: '5000' }), { message: 'invalid ENVBOX_MAX_EVALUATE_ITEMS: expected an integer from 1 to 4096, received "5000"' });
});
