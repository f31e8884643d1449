import t, { type Test } from 'tap';
import { createCodingEnvDefinition } from '../../envs/coding_env/index.js';
import type { EnvboxServer } from '../../runtime/index.js';
import { request, startTestServer } from '../fixtures/test-server.js';
import { INTERRUPT_ONLY } from '../fixtures/interrupt-grace.js';

/** One sample of the text exposition: `name{labels} value`. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A tiny parser of the Prometheus text format (prom-client only writes it): comments skipped. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) throw new Error(`unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** Scrape `GET /metrics` and return a lookup: the value of the series with exactly these labels (undefined if absent). */
async function scrape(t: Test, server: EnvboxServer): Promise<(name: string, labels?: Record<string, string>) => number | undefined> {
  const response = await fetch(`${server.url}/metrics`);
  t.equal(response.status, 200);
  t.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  const samples = parseExposition(await response.text());
  return (name, labels = {}) => {
    const wanted = JSON.stringify(Object.entries(labels).sort());
    return samples.find((sample) => sample.name === name && JSON.stringify(Object.entries(sample.labels).sort()) === wanted)?.value;
  };
}

t.test('GET /metrics needs no session and starts from zero', async (t) => {
  const server = await startTestServer(t);
  const value = await scrape(t, server);
  t.equal(server.app.sessions.size, 0, 'scraping opened no session');
  t.equal(value('envbox_sessions'), 0);
  t.equal(value('envbox_sessions_opened_total'), 0);
  t.equal(value('envbox_resets_total'), 0);
  t.equal(value('envbox_step_duration_seconds_count'), 0);
  t.ok(value('envbox_process_resident_memory_bytes')! > 0, 'default process metrics, prefixed');
  t.equal(value('envbox_pool_size', { language: 'python' }), undefined, 'echo_env adds no pool metrics');
});

t.test('echo_env: sessions, resets, steps without exit code, errors by code', async (t) => {
  const server = await startTestServer(t);
  t.equal((await request(server, 'POST', '/reset', {})).status, 200);
  t.equal((await request(server, 'POST', '/step', { action: { message: 'hi' } })).status, 200);
  const created = await request(server, 'POST', '/sessions');
  const id = created.body.session_id as string;
  const bad = await request(server, 'POST', '/step', { action: { nope: 1 } });
  t.equal(bad.body.error.code, 'INVALID_REQUEST');
  t.equal((await request(server, 'GET', '/state', undefined, { 'X-Session-Id': 'missing' })).status, 404);

  let value = await scrape(t, server);
  t.equal(value('envbox_sessions'), 2);
  t.equal(value('envbox_sessions_opened_total'), 2);
  t.equal(value('envbox_resets_total'), 1);
  t.equal(value('envbox_steps_total', { exit_code: 'none' }), 1);
  t.equal(value('envbox_step_duration_seconds_count'), 1);
  t.equal(value('envbox_errors_total', { code: 'INVALID_REQUEST' }), 1);
  t.equal(value('envbox_errors_total', { code: 'SESSION_NOT_FOUND' }), 1);

  t.equal((await request(server, 'DELETE', `/sessions/${id}`)).status, 200);
  value = await scrape(t, server);
  t.equal(value('envbox_sessions'), 1);
  t.equal(value('envbox_sessions_closed_total', { reason: 'client' }), 1);
});

t.test('two apps in one process do not share counts', async (t) => {
  const first = await startTestServer(t);
  const second = await startTestServer(t);
  await request(first, 'POST', '/step', { action: { message: 'a' } });
  await request(first, 'POST', '/step', { action: { message: 'b' } });
  await request(second, 'POST', '/step', { nope: true });
  const one = await scrape(t, first);
  const two = await scrape(t, second);
  t.equal(one('envbox_steps_total', { exit_code: 'none' }), 2);
  t.equal(two('envbox_steps_total', { exit_code: 'none' }), undefined);
  t.equal(one('envbox_errors_total', { code: 'INVALID_REQUEST' }), undefined);
  t.equal(two('envbox_errors_total', { code: 'INVALID_REQUEST' }), 1);
});

t.test('coding_env (process backend): steps by exit code, the latency histogram, sandbox and pool metrics', async (t) => {
  // The busy loop must be counted under 124: a kill grace no working interrupt takes, however slow
  // the machine (the default 500 ms raced the guest's reply; a loaded machine could answer 137).
  const definition = await createCodingEnvDefinition({ pythonBackend: 'process', poolSize: 1, sandbox: INTERRUPT_ONLY.sandbox });
  const server = await startTestServer(t, {}, definition);
  t.equal((await request(server, 'POST', '/reset', {})).status, 200);
  const steps = [
    { code: 'print(1)', exit: 0 },
    { code: 'import sys\nsys.exit(1)', exit: 1 },
    { code: 'while True:\n    pass', exit: 124, timeout_s: 0.3 },
  ];
  for (const { code, exit, ...extra } of steps) {
    const answer = await request(server, 'POST', '/step', { action: { code }, ...extra });
    t.equal(answer.body.observation.exit_code, exit, code);
  }
  const value = await scrape(t, server);
  t.equal(value('envbox_resets_total'), 1);
  t.equal(value('envbox_steps_total', { exit_code: '0' }), 1);
  t.equal(value('envbox_steps_total', { exit_code: '1' }), 1);
  t.equal(value('envbox_steps_total', { exit_code: '124' }), 1);
  t.equal(value('envbox_steps_total', { exit_code: 'none' }), undefined);
  t.equal(value('envbox_step_duration_seconds_count'), 3);
  t.ok(value('envbox_step_duration_seconds_sum')! >= 0.3, 'the timed-out step took at least its budget');
  t.equal(value('envbox_step_duration_seconds_bucket', { le: '30' }), 3);
  t.equal(value('envbox_step_duration_seconds_bucket', { le: '+Inf' }), 3);
  t.equal(value('envbox_sessions'), 1);
  t.ok(value('envbox_sandbox_starts_total', { language: 'python' })! >= 1, 'the pool started python sandboxes');
  t.equal(value('envbox_sandbox_kills_total', { language: 'python' }), 0);
  t.equal(value('envbox_pool_size', { language: 'python' }), 1);
  t.equal(value('envbox_pool_size', { language: 'javascript' }), 1);
  t.ok(value('envbox_pool_ready', { language: 'python' })! <= 1);
});
