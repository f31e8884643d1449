import { createServer } from 'node:net';
import t from 'tap';
import {
  ContainerStartError,
  HealthTimeoutError,
  waitUntilHealthy,
  type ContainerState,
  type StartingContainer,
} from '../../../client/index.js';
import { startTestServer } from '../../fixtures/test-server.js';

const TOKEN = 'seam-token';

/** A loopback port nothing listens on (bound, then released). */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A starting container at `baseUrl` whose provider reports `state` and `logs`. */
function starting(baseUrl: string, state: ContainerState | undefined, logs = 'line 1\nline 2'): StartingContainer {
  return { id: '0123456789abcdef0123', image: 'envbox/test:seam', baseUrl, token: TOKEN, logs: async () => logs, state: async () => state };
}

const RUNNING: ContainerState = { running: true, status: 'running', exitCode: null };

t.test('a real server: healthy at once, with the full /health body (the token is sent)', async (t) => {
  const server = await startTestServer(t, { token: TOKEN });
  const healthy = await waitUntilHealthy(starting(server.url, RUNNING));
  t.equal(healthy.healthy, true);
  t.equal(healthy.body.status, 'healthy');
  t.equal(healthy.body.env, 'echo_env', 'the full body, which only a request with the token gets');
  t.ok(healthy.attempts >= 1);
});

t.test('nothing answers while the container runs: HealthTimeoutError with its last log lines', async (t) => {
  const baseUrl = `http://127.0.0.1:${await deadPort()}`;
  const error = await waitUntilHealthy(starting(baseUrl, RUNNING), { timeoutMs: 300 }).catch((thrown: unknown) => thrown);
  t.type(error, HealthTimeoutError);
  const timeout = error as HealthTimeoutError;
  t.equal(timeout.code, 'HEALTH_TIMEOUT');
  t.equal(timeout.timeoutMs, 300);
  t.equal(timeout.containerId, '0123456789abcdef0123');
  t.equal(timeout.logs, 'line 1\nline 2');
  t.match(
    timeout.message,
    new RegExp(
      `^Container 0123456789ab of envbox/test:seam did not answer GET ${baseUrl}/health healthy within 300 ms ` +
        '\\(\\d+ probes, the last: ECONNREFUSED\\); raise healthTimeoutMs if it is only slow\\. Its last log lines:\\nline 1\\nline 2$',
    ),
  );
});

t.test('the container stopped: ContainerStartError at once, saying how, with its last log lines', async (t) => {
  const baseUrl = `http://127.0.0.1:${await deadPort()}`;
  const cases: Array<[ContainerState, string, string]> = [
    [{ running: false, status: 'exited', exitCode: 3, notes: ['killed for exceeding its memory limit'] }, 'the container exited with code 3 (killed for exceeding its memory limit)', 'boom'],
    [{ running: false, status: 'removed', exitCode: null }, 'the container was removed', ''],
    [{ running: false, status: 'paused', exitCode: null }, 'the container stopped (paused)', 'x'],
  ];
  for (const [state, how, logs] of cases) {
    const started = performance.now();
    const error = await waitUntilHealthy(starting(baseUrl, state, logs), { timeoutMs: 30_000 }).catch((thrown: unknown) => thrown);
    t.type(error, ContainerStartError, how);
    const failure = error as ContainerStartError;
    t.equal(failure.code, 'CONTAINER_START');
    const tail = logs === '' ? '; it printed nothing.' : `. Its last log lines:\n${logs}`;
    t.equal(failure.message, `Container 0123456789ab of envbox/test:seam stopped before it was healthy: ${how}${tail}`);
    t.equal(failure.logs, logs);
    t.ok(performance.now() - started < 10_000, 'not waited for until the deadline');
  }
});

t.test('a provider that cannot be asked (state undefined) is waited for until the deadline', async (t) => {
  const baseUrl = `http://127.0.0.1:${await deadPort()}`;
  await t.rejects(waitUntilHealthy(starting(baseUrl, undefined), { timeoutMs: 600 }), { code: 'HEALTH_TIMEOUT', timeoutMs: 600 });
});

t.test('an aborted start: ContainerStartError with the reason as cause', async (t) => {
  const baseUrl = `http://127.0.0.1:${await deadPort()}`;
  const controller = new AbortController();
  const reason = new Error('the caller gave up');
  setTimeout(() => controller.abort(reason), 100);
  const error = await waitUntilHealthy(starting(baseUrl, RUNNING), { timeoutMs: 30_000, signal: controller.signal }).catch((thrown: unknown) => thrown);
  t.type(error, ContainerStartError);
  t.equal((error as Error).message, 'Start of container 0123456789ab of envbox/test:seam was aborted; the container was removed.');
  t.equal((error as Error).cause, reason);
});
