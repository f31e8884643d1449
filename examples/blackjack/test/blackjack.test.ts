import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startServer } from 'envbox';
import { formatReport, validateEnvironment } from 'envbox/testing';
import environment, { BlackjackEnvironment } from '../src/index.js';
import { BlackjackEnv } from '../src/client.js';

test('the conformance kit passes: HTTP, WebSocket, schemas, sessions, errors', async () => {
  const report = await validateEnvironment(environment);
  assert.ok(report.passed, formatReport(report));
});

test('the same seed, the same episode', async () => {
  const play = (seed: number): string[] => {
    const env = new BlackjackEnvironment({ max: 100, guesses: 7 });
    env.reset({ seed, signal: AbortSignal.timeout(1000) });
    return [50, 25, 75, 10].map((guess) => env.step({ guess, metadata: {} }).hint);
  };
  assert.deepEqual(play(42), play(42));
});

test('halving finds the number within the guesses, with reward 1', async () => {
  const definition = await environment.create({ max: 100, guesses: 7 }, { logger: console });
  const server = await startServer(definition, { logLevel: 'error' });
  await using env = new BlackjackEnv({ baseUrl: server.url, transport: 'ws' });
  try {
    let { observation } = await env.reset({ seed: 7 });
    let result;
    do {
      result = await env.step({ guess: Math.floor((observation.low + observation.high) / 2) });
      observation = result.observation;
    } while (!result.done);
    assert.equal(observation.hint, 'correct');
    assert.equal(result.reward, 1);
    assert.equal((await env.state()).solved, true);
  } finally {
    await server.close();
  }
});
