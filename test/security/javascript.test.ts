import t from 'tap';
import { createCodingEnvDefinition } from '../../envs/coding_env/index.js';
import { request, startTestServer } from '../fixtures/test-server.js';
import { CANARY_NAME, CANARY_VALUE, CorpusSession, checkNoCanary, checkOutcome, runCorpus } from './corpus.js';
import { javascriptCases, javascriptWorkerStallCases } from './javascript-cases.js';
import { INTERRUPT_ONLY } from '../fixtures/interrupt-grace.js';

// The JavaScript half of the escape corpus (issue 8) against live coding_env servers: real worker
// threads, real QuickJS. The canary is in the server's environment before any server starts.
process.env[CANARY_NAME] = CANARY_VALUE;

// CPython child processes are the cheapest Python pool to keep warm beside the JavaScript one.
const pythonBackend = 'process' as const;

t.test('hostile JavaScript on the default worker layout', async (t) => {
  // None of these stalls its worker: a grace no working interrupt takes keeps a loaded machine from
  // turning their timeouts (124) into kills (137); the stalls run below, with the default grace.
  await runCorpus(t, { language: 'javascript', cases: javascriptCases, env: { pythonBackend, javascript: INTERRUPT_ONLY.javascript } });
});

t.test('hostile JavaScript that stalls its worker, one episode per worker (the bystander has its own)', async (t) => {
  await runCorpus(t, {
    language: 'javascript',
    cases: javascriptWorkerStallCases,
    env: { pythonBackend, javascript: { episodesPerWorker: 1 } },
  });
});

t.test('the documented blast radius: a stall terminates its worker; an episode sharing it is told 137, an episode on another worker keeps its state', async (t) => {
  // No warm pool, one worker before any is shared, two episodes a worker: episodes start in the
  // order the sessions reset, so the staller and its neighbour share the first worker and the third
  // episode gets a second one.
  const definition = await createCodingEnvDefinition({ pythonBackend, poolSize: 0, defaultLanguage: 'javascript', javascript: { spreadWorkers: 1, episodesPerWorker: 2 } });
  const server = await startTestServer(t, {}, definition);
  const staller = await CorpusSession.open(server, 'javascript');
  const neighbour = await CorpusSession.open(server, 'javascript');
  const elsewhere = await CorpusSession.open(server, 'javascript');
  for (const [session, name] of [[staller, 'staller'], [neighbour, 'neighbour'], [elsewhere, 'elsewhere']] as const) {
    checkOutcome(t, await session.step(`var mine = '${name}'`), { exit_code: 0 }, `${name} sets its variable`);
  }
  const before = await request(server, 'GET', '/health');
  t.match(before.body.javascript, { workers: 2, episodes: 3, terminated_workers: 0 }, 'two on the first worker, one on the second');

  const stalled = await staller.step('const a = []; a.length = 2 ** 32 - 1; a.includes(1)', 1);
  checkOutcome(t, stalled, { exit_code: 137, stdout: '', state_lost: true, stderr: /held it \d+ ms past its deadline/ }, 'the staller');
  const told = await neighbour.step('mine');
  checkOutcome(
    t,
    told,
    { exit_code: 137, stdout: '', state_lost: true, stderr: /^envbox: the sandbox was destroyed: a step of a JavaScript episode on the same worker thread held it \d+ ms past its deadline/ },
    'the neighbour on the same worker',
  );
  checkOutcome(t, await neighbour.step('typeof mine'), { exit_code: 0, stderr: '', result: "'undefined'" }, 'the neighbour starts afresh');
  checkOutcome(t, await elsewhere.step('mine'), { exit_code: 0, stderr: '', result: "'elsewhere'", state_lost: false }, 'the episode on another worker');
  checkOutcome(t, await staller.step('typeof mine'), { exit_code: 0, stderr: '', result: "'undefined'" }, 'the staller starts afresh');
  for (const response of [stalled, told]) checkNoCanary(t, response, 'blast radius');

  const after = await request(server, 'GET', '/health');
  t.equal(after.status, 200, 'the server is up');
  t.match(after.body.javascript, { workers: 2, episodes: 3, terminated_workers: 1 }, 'exactly one worker was terminated; the two lost episodes were restarted');
  t.equal(after.body.active_sessions, 3);
  for (const session of [staller, neighbour, elsewhere]) await session.close();
});
