import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startServer } from 'envbox';
import { formatReport, validateEnvironment } from 'envbox/testing';
import environment from '../src/index.js';
import { BlackjackEnv } from '../src/client.js';

test('the conformance kit passes: HTTP, WebSocket, schemas, sessions, errors', async () => {
  const report = await validateEnvironment(environment);
  assert.ok(report.passed, formatReport(report));
});

test('the conformance kit passes with a six-deck shoe', async () => {
  const report = await validateEnvironment(environment, { options: { decks: 6 } });
  assert.ok(report.passed, formatReport(report));
});

test('a hand over WebSocket: the typed client parses every observation, the seed replays it', async () => {
  const definition = await environment.create({ decks: 1 }, { logger: console });
  const server = await startServer(definition, { logLevel: 'error' });
  try {
    const play = async (): Promise<unknown[]> => {
      await using env = new BlackjackEnv({ baseUrl: server.url, transport: 'ws' });
      let result = await env.reset({ seed: 11 });
      const seen: unknown[] = [result];
      while (!result.done) {
        result = await env.step({ action: result.observation.player_sum < 17 ? 'hit' : 'stick' });
        seen.push(result);
      }
      assert.ok([-1, 0, 1].includes(result.reward!));
      assert.equal((await env.state()).done, true);
      return seen;
    };
    assert.deepEqual(await play(), await play());
  } finally {
    await server.close();
  }
});
