import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import t from 'tap';
import WebSocket from 'ws';
import { CLI, ROOT, startCliServer } from './fixtures/cli-process.js';

const run = promisify(execFile);

t.test('envbox serve: a bad option exits 2 naming it', async (t) => {
  const failure = await run(process.execPath, [CLI, 'serve', '--env', 'echo_env', '--port', 'abc'], { cwd: ROOT }).then(
    () => undefined,
    (error: { code: number; stderr: string }) => error,
  );
  t.equal(failure?.code, 2);
  t.match(failure?.stderr, /envbox: invalid --port: expected an integer from 0 to 65535, received "abc"/);
  const fromEnv = await run(process.execPath, [CLI, 'serve'], { cwd: ROOT, env: { ENVBOX_ENV: 'echo_env', ENVBOX_MAX_SESSIONS: '0' } }).then(
    () => undefined,
    (error: { code: number; stderr: string }) => error,
  );
  t.equal(fromEnv?.code, 2);
  t.match(fromEnv?.stderr, /invalid ENVBOX_MAX_SESSIONS/);
});

t.test('envbox serve: a port in use exits 1 with the reason', async (t) => {
  const { url } = await startCliServer(t);
  const port = new URL(url).port;
  const failure = await run(process.execPath, [CLI, 'serve', '--env', 'echo_env', '--port', port], { cwd: ROOT }).then(
    () => undefined,
    (error: { code: number; stderr: string }) => error,
  );
  t.equal(failure?.code, 1);
  t.match(failure?.stderr, /EADDRINUSE/);
});

t.test('envbox serve: SIGTERM stops gracefully, closing keep-alive connections and WebSockets', async (t) => {
  const { url, child } = await startCliServer(t);
  // A keep-alive HTTP connection and a WebSocket stay open while the signal arrives.
  const reset = await fetch(`${url}/reset`, { method: 'POST', headers: { connection: 'keep-alive' } });
  t.equal(reset.status, 200);
  const socket = new WebSocket(`${url.replace('http', 'ws')}/ws`);
  await once(socket, 'open');
  const socketClosed = once(socket, 'close');
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const [code] = (await socketClosed) as [number];
  t.equal(code, 1001, 'the WebSocket is told the server is going away');
  const [exitCode, signal] = (await exited) as [number | null, string | null];
  t.equal(exitCode, 0);
  t.equal(signal, null);
});
