import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startCliServer } from './fixtures/cli-process.js';

const RECORDER = new URL('./fixtures/import-recorder.mjs', import.meta.url);

/** Every module URL the real `envbox serve --env <env>` resolved by the time it listened. */
async function modulesOfServe(t: Test, env: string): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'envbox-imports-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const log = join(dir, 'modules.log');
  const recorder = new URL(RECORDER);
  recorder.searchParams.set('log', log);
  await startCliServer(t, ['--env', env], ['--import', recorder.href]);
  return readFileSync(log, 'utf8').split('\n').filter((line) => line !== '');
}

// Serving loads no container tooling: the client's Docker side imports dockerode and tar-stream
// only when a container or an image is made (and cli.ts loads build-image only when it runs).
t.test('envbox serve --env echo_env loads neither dockerode nor tar-stream', async (t) => {
  const modules = await modulesOfServe(t, 'echo_env');
  t.ok(modules.some((url) => url.includes('/dist/runtime/')), `the recorder saw the server's own modules (${modules.length} in all)`);
  t.ok(modules.some((url) => url.includes('/node_modules/koa/')), 'and its dependencies (koa)');
  for (const name of ['dockerode', 'tar-stream', 'docker-modem', 'ssh2']) {
    t.same(modules.filter((url) => url.includes(`/node_modules/${name}/`)), [], `${name} is not loaded`);
  }
});
