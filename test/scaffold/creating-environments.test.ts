import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import ts from 'typescript';
import { validateServer } from '../../runtime/index.js';
import { ensureApplianceImage, probeDocker, DOCKER_TESTS_REQUIRED } from '../fixtures/docker.js';
import { ROOT } from '../fixtures/cli-process.js';

/**
 * docs/creating-environments.md, end to end, as a creator runs it: every `sh` block in order, in
 * one bash (so `cd` and the background server carry over), then the guide's TypeScript against the
 * image it built. The working tree is the envbox installed (`npm pack` of it, no registry). Two
 * substitutions: the guide's folder /tmp/envbox-guide becomes a fresh one, port 8000 a free port.
 */
const GUIDE = readFileSync(join(ROOT, 'docs', 'creating-environments.md'), 'utf8');
const GUIDE_DIR = '/tmp/envbox-guide';

function blocks(language: string): string[] {
  return [...GUIDE.matchAll(new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g'))].map((match) => match[1]!);
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

t.test('the guide, end to end: init, npm install, npm test, serve, validate over HTTP and WebSocket, build-image, fromDockerImage, a step', async (t) => {
  const docker = await probeDocker();
  let withDocker = docker.engine !== undefined;
  if (docker.engine !== undefined) {
    const image = await ensureApplianceImage(docker.engine);
    if (image.reason !== undefined) {
      if (DOCKER_TESTS_REQUIRED) t.fail(`ENVBOX_DOCKER_TESTS=required, but: ${image.reason}`);
      withDocker = false;
    }
  } else if (DOCKER_TESTS_REQUIRED) t.fail(`ENVBOX_DOCKER_TESTS=required, but: ${docker.reason}`);
  if (!withDocker) process.stderr.write('\n!!! creating-environments: NO DOCKER ENGINE: the build-image and fromDockerImage steps are SKIPPED !!!\n\n');

  const workspace = mkdtempSync(join(tmpdir(), 'envbox-guide-'));
  t.teardown(() => rmSync(workspace, { recursive: true, force: true }));
  const port = await freePort();
  let script = blocks('sh').join('\n').replaceAll(GUIDE_DIR, workspace).replaceAll('8000', String(port));
  if (!withDocker) script = script.split('\n').filter((line) => !line.includes('build-image')).join('\n');
  t.match(script, /envbox init my_game/, 'the guide scaffolds');
  t.match(script, /envbox validate http:\/\/127\.0\.0\.1:\d+/, 'the guide validates a running server');

  // Its own process group: whatever the guide leaves running is killed with it.
  const bash = spawn('bash', ['-e', '-o', 'pipefail', '-c', script], {
    cwd: ROOT,
    detached: true,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    try {
      process.kill(-bash.pid!, 'SIGKILL');
    } catch {
      // Already gone.
    }
  });
  let out = '';
  bash.stdout!.on('data', (chunk: Buffer) => (out += String(chunk)));
  bash.stderr!.on('data', (chunk: Buffer) => (out += String(chunk)));
  const [code] = (await once(bash, 'exit')) as [number | null];
  t.equal(code, 0, `the guide's commands ran; their output:\n${out.slice(-6000)}`);
  t.match(out, /envbox init: wrote my_game \(package my_game\)/);
  t.match(out, /# pass 3\n# fail 0/, "the package's own tests passed, the conformance kit among them");
  t.match(out, /--max\s+ENVBOX_MAX\s+the secret is drawn from 1 to this/, "its options are envbox serve's flags");
  t.match(out, new RegExp(`valid: http://127\\.0\\.0\\.1:${port} \\(my_game 0\\.1\\.0\\): 19 of 19 checks passed`), 'validate <url>');
  t.match(out, /valid: http:\/\/127\.0\.0\.1:\d+ \(my_game 0\.1\.0\): 19 of 19 checks passed[\s\S]*valid: http:\/\/127\.0\.0\.1:\d+ \(my_game 0\.1\.0\): 19 of 19/, 'validate .');
  const pkg = join(workspace, 'my_game');
  t.match(JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')), { name: 'my_game', devDependencies: { envbox: 'file:../envbox-0.1.0.tgz' }, peerDependencies: { envbox: /^\^/ } });

  // The served package, over HTTP and WebSocket, by the kit (the guide's server is gone: serve anew).
  const serve = spawn(join(pkg, 'node_modules', '.bin', 'envbox'), ['serve', '--env', '.', '--port', '0', '--log-level', 'error'], { cwd: pkg, stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => serve.kill('SIGKILL'));
  let served = '';
  for await (const chunk of serve.stdout!) {
    served += String(chunk);
    if (/serving my_game on http:\/\/\S+/.test(served)) break;
  }
  const url = /serving my_game on (http:\/\/\S+)/.exec(served)![1]!;
  const report = await validateServer(url);
  t.ok(report.passed, JSON.stringify(report.checks.filter((check) => check.status !== 'pass')));
  t.same(
    report.checks.filter((check) => /^(http|ws)_episode$/.test(check.name)).map((check) => check.status),
    ['pass', 'pass'],
    'an episode over HTTP and one over WebSocket',
  );
  serve.kill('SIGTERM');

  if (!withDocker) return;
  // The guide's TypeScript, as written, run in the package (which imports itself as my_game/client).
  const [typescript] = blocks('ts').filter((block) => block.includes('fromDockerImage'));
  t.ok(typescript, 'the guide shows fromDockerImage');
  const js = ts.transpileModule(typescript!, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } }).outputText;
  writeFileSync(join(pkg, 'guide-image.mjs'), js);
  const node = spawn(process.execPath, ['guide-image.mjs'], { cwd: pkg, stdio: ['ignore', 'pipe', 'pipe'] });
  let printed = '';
  node.stdout!.on('data', (chunk: Buffer) => (printed += String(chunk)));
  node.stderr!.on('data', (chunk: Buffer) => (printed += String(chunk)));
  const [exit] = (await once(node, 'exit')) as [number | null];
  t.equal(exit, 0, printed);
  const step = JSON.parse(printed.trim().split('\n').at(-1)!) as { hint: string; reward: number; done: boolean };
  t.match(step, { hint: /^(higher|lower|correct)$/, reward: Number, done: Boolean }, 'a step from the image the guide built');
  // The image is the appliance's: its user and health check.
  const inspect = await docker.engine!.getImage('my_game:latest').inspect();
  t.equal(inspect.Config.User, '10001');
  t.ok(inspect.Config.Healthcheck?.Test?.length, 'the health check of envbox/appliance');
  t.same(inspect.Config.Cmd, ['--env', 'my_game']);
  await docker.engine!.getImage('my_game:latest').remove({ force: true });
});
