import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { extract, pack } from 'tar-stream';
import {
  buildImage,
  buildImageCommand,
  createBuildProgressReporter,
  DockerIgnore,
  ImageBuildError,
  listBuildContext,
  MANAGED_LABEL,
  MissingDependencyError,
  OWNER_LABEL,
  PACKAGE_ROOT,
  packBuildContext,
  productionPackages,
  tarSize,
  type DockerEngine,
} from '../../../../client/index.js';
import { ENVIRONMENTS } from '../../../../envs/index.js';
import { runCli, type CliContext } from '../../../../runtime/index.js';
import { probeDocker, skipFile } from '../../../fixtures/docker.js';

const run = promisify(execFile);

/** A tiny build context: files the .dockerignore leaves out, and dev packages beside production ones. */
const TINY_CONTEXT: Record<string, string> = {
  'package.json': JSON.stringify({ name: 'tiny', dependencies: { a: '1' }, devDependencies: { d: '1' } }),
  Dockerfile: 'ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY . /ctx/\n',
  '.dockerignore': [
    '# secrets and logs never leave the machine',
    'secret.txt',
    '  logs  ',
    '*.md',
    '!KEEP.md',
    '**/*.tmp',
    '/Dockerfile',
  ].join('\n'),
  'secret.txt': 'hunter2',
  'logs/app.log': 'log',
  'README.md': 'readme',
  'KEEP.md': 'kept',
  'src/index.js': 'export {};',
  'src/x.tmp': 'tmp',
  'src/deep/y.tmp': 'tmp',
  'node_modules/a/package.json': JSON.stringify({ name: 'a', dependencies: { b: '1', c: '1', '@s/q': '1' } }),
  'node_modules/a/index.js': 'module.exports = 1;',
  'node_modules/a/CHANGES.tmp': 'ignored in node_modules too',
  'node_modules/a/node_modules/c/package.json': JSON.stringify({ name: 'c' }),
  'node_modules/b/package.json': JSON.stringify({ name: 'b', peerDependencies: { p: '1' } }),
  'node_modules/@s/q/package.json': JSON.stringify({ name: '@s/q' }),
  'node_modules/d/package.json': JSON.stringify({ name: 'd', dependencies: { e: '1' } }),
  'node_modules/e/package.json': JSON.stringify({ name: 'e' }),
  'node_modules/.package-lock.json': '{}',
};

/** What of {@link TINY_CONTEXT} a build context holds (files and folders). */
const TINY_EXPECTED = [
  '.dockerignore',
  'Dockerfile',
  'KEEP.md',
  'node_modules',
  'node_modules/@s',
  'node_modules/@s/q',
  'node_modules/@s/q/package.json',
  'node_modules/a',
  'node_modules/a/index.js',
  'node_modules/a/node_modules',
  'node_modules/a/node_modules/c',
  'node_modules/a/node_modules/c/package.json',
  'node_modules/a/package.json',
  'node_modules/b',
  'node_modules/b/package.json',
  'package.json',
  'src',
  'src/deep',
  'src/index.js',
];

async function makeTinyContext(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'envbox-context-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const [name, content] of Object.entries(TINY_CONTEXT)) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), content);
  }
  await mkdir(join(dir, 'node_modules/.bin'));
  await symlink('../a/index.js', join(dir, 'node_modules/.bin/a'));
  return dir;
}

/** The names in a tar stream, in order. */
async function tarNames(stream: NodeJS.ReadableStream): Promise<string[]> {
  const names: string[] = [];
  const reader = extract();
  reader.on('entry', (header, body, next) => {
    names.push(header.name.replace(/\/$/, ''));
    body.on('end', next);
    body.resume();
  });
  const done = new Promise<void>((resolve, reject) => {
    reader.on('finish', resolve);
    reader.on('error', reject);
  });
  (stream as Readable).pipe(reader);
  await done;
  return names;
}

t.test('DockerIgnore: Docker’s pattern rules', async (t) => {
  const ignore = new DockerIgnore(
    ['# comment', '', '  node_modules  ', '/secret', './build//out/', '*.md', '!README.md', '**/*.tmp', 'docs/**', 'a?c', '[!x]y', 'dir', '!dir/keep.txt'].join('\n'),
  );
  t.same(ignore.patterns, ['node_modules', 'secret', 'build/out', '*.md', '!README.md', '**/*.tmp', 'docs/**', 'a?c', '[!x]y', 'dir', '!dir/keep.txt']);
  const cases: Array<[string, boolean]> = [
    ['node_modules', true],
    ['node_modules/a/b.js', true, /* a directory pattern excludes what is under it */],
    ['src/node_modules', false],
    ['secret', true],
    ['secret/inner', true],
    ['x/secret', false],
    ['build/out/bin', true],
    ['build/in', false],
    ['CHANGES.md', true],
    ['README.md', false],
    ['docs/a.md', true, /* by docs/** */],
    ['src/a.md', false],
    ['a.tmp', true],
    ['src/deep/b.tmp', true],
    ['docs', false],
    ['docs/x/y', true],
    ['abc', true],
    ['a/c', false],
    ['zy', true],
    ['xy', false],
    ['dir/other', true],
    ['dir/keep.txt', false],
  ];
  for (const [path, ignored] of cases) t.equal(ignore.ignores(path), ignored, `${path} is ${ignored ? '' : 'not '}ignored`);
  t.equal(ignore.hasExclusions, true);
  t.equal(new DockerIgnore('a\nb').hasExclusions, false);
  t.equal(new DockerIgnore('**').ignores('any/thing'), true);
  t.equal(new DockerIgnore('**\n!keep').ignores('keep/inner'), false, 'a re-included folder brings its files back');
});

t.test('productionPackages: the same set as `npm ls --omit=dev --all --parseable`', async (t) => {
  const [mine, npm] = await Promise.all([
    productionPackages(PACKAGE_ROOT),
    run('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: PACKAGE_ROOT, maxBuffer: 16 * 1024 * 1024 }),
  ]);
  const fromNpm = npm.stdout
    .trim()
    .split('\n')
    .slice(1)
    .map((path) => path.slice(PACKAGE_ROOT.length).replace(/^\//, ''))
    .sort();
  t.same(mine, fromNpm, `${mine.length} production packages`);
  t.ok(mine.includes('node_modules/dockerode'));
  t.notOk(mine.includes('node_modules/tap'), 'dev packages stay out');
  t.notOk(mine.includes('node_modules/typescript'), 'dev packages stay out');
});

t.test('listBuildContext: .dockerignore applied, production node_modules only', async (t) => {
  const dir = await makeTinyContext(t);
  t.same(await productionPackages(dir), ['node_modules/@s/q', 'node_modules/a', 'node_modules/a/node_modules/c', 'node_modules/b']);
  const context = await listBuildContext({ contextDir: dir, dockerfile: 'Dockerfile' });
  t.same(
    context.entries.map((entry) => entry.name),
    TINY_EXPECTED,
  );
  t.equal(context.dockerfile, 'Dockerfile', 'an ignored Dockerfile is still sent: the engine needs it');
  t.equal(context.fileCount, 10);
  const names = await tarNames(packBuildContext(context));
  t.same(names, TINY_EXPECTED, 'the tar holds exactly the listed entries, in order');

  const everything = await listBuildContext({ contextDir: dir, dockerfile: 'Dockerfile', productionNodeModulesOnly: false });
  const all = everything.entries.map((entry) => entry.name);
  t.ok(all.includes('node_modules/d/package.json') && all.includes('node_modules/.bin/a'), 'productionNodeModulesOnly: false sends node_modules as it is');
  t.equal(everything.entries.find((entry) => entry.name === 'node_modules/.bin/a')?.type, 'symlink');

  const outside = await mkdtemp(join(tmpdir(), 'envbox-dockerfile-'));
  t.teardown(() => rm(outside, { recursive: true, force: true }));
  await writeFile(join(outside, 'Dockerfile'), 'FROM scratch\n');
  const elsewhere = await listBuildContext({ contextDir: dir, dockerfile: join(outside, 'Dockerfile') });
  t.match(elsewhere.dockerfile, /^\.dockerfile\.[0-9a-f]{20}$/, 'a Dockerfile outside the context is added under a random name');
  t.ok(elsewhere.entries.some((entry) => entry.name === elsewhere.dockerfile));
  t.ok(tarSize(context) > context.contentBytes);

  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'tiny', dependencies: { a: '1', zzz: '1' } }));
  await t.rejects(listBuildContext({ contextDir: dir, dockerfile: 'Dockerfile' }), new MissingDependencyError(
    `Dependency zzz of the package is not installed under ${dir}; run \`npm ci\` first.`,
  ));
});

t.test('the progress reporter: a bar on a TTY, lines otherwise', async (t) => {
  const write = (tty: boolean) => {
    let text = '';
    const reporter = createBuildProgressReporter({ isTTY: tty, columns: 70, write: (chunk: string) => (text += chunk) });
    reporter.report({ type: 'context', sentBytes: 0, totalBytes: 2048, fileCount: 3 });
    reporter.report({ type: 'context', sentBytes: 2048, totalBytes: 2048, fileCount: 3 });
    reporter.report({ type: 'step', step: 2, totalSteps: 4, instruction: 'COPY . /ctx/' });
    reporter.report({ type: 'output', line: ' ---> Using cache' });
    reporter.report({ type: 'done', tag: 'x:y', imageId: 'sha256:0123456789abcdef', durationMs: 1234, cachedSteps: 1, totalSteps: 4 });
    return text;
  };
  const bar = write(true);
  t.match(bar, /\r\x1b\[K\[#{6}\.{18}\]  25% step 2\/4 COPY \. \/ctx\//);
  t.match(bar, /\[#{24}\] 100% built x:y in 1\.2 s \(1\/4 steps cached\)\n$/);
  t.notMatch(bar, /Using cache/, 'a TTY shows the bar, not the output');
  t.equal(
    write(false),
    'Sending build context: 3 files, 0.0 MB\nSent build context (0.0 MB)\nStep 2/4 : COPY . /ctx/\n ---> Using cache\nBuilt x:y (0123456789ab) in 1.2 s, 1/4 steps from cache\n',
  );
});

function cliContext() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const context: CliContext = { registry: ENVIRONMENTS, version: '9.9.9', env: {}, stdout, stderr, commands: { 'build-image': buildImageCommand } };
  return { context, out: () => out, err: () => err };
}

t.test('envbox build-image: help, usage errors', async (t) => {
  const help = cliContext();
  t.same(await runCli(['build-image', '--help'], help.context), { exitCode: 0 });
  t.match(help.out(), /envbox build-image \[--tag <image>\] \[--base-image <image>\] \[--dockerfile <path>\] \[--context <dir>\]/);
  t.match(help.out(), /--tag <image> +the image to make +\(default envbox\/appliance:latest\)/);
  const top = cliContext();
  t.same(await runCli(['--help'], top.context), { exitCode: 0 });
  t.match(top.out(), /^ {2}envbox build-image \[--tag <image>\]/m, 'the top-level help lists the command');
  const bad = cliContext();
  t.same(await runCli(['build-image', '--tagg', 'x'], bad.context), { exitCode: 2 });
  t.match(bad.err(), /^envbox build-image: Unknown option '--tagg'/);
  const empty = cliContext();
  t.same(await runCli(['build-image', '--tag', ''], empty.context), { exitCode: 2 });
  t.match(empty.err(), /^envbox build-image: invalid --tag: /);
  const unknown = cliContext();
  t.same(await runCli(['frobnicate'], unknown.context), { exitCode: 2 });
  t.match(unknown.err(), /unknown command "frobnicate"; expected serve or mcp or build-image/);
});

// ---- Against the real engine from here on -----------------------------------------------------

const docker = await probeDocker();
if (docker.engine === undefined) {
  t.test('image builds against a real Docker engine', async (t) => skipFile(t, docker.reason));
} else {
  const engine = docker.engine;
  const suffix = `${process.pid}-${Date.now().toString(36)}`;
  const baseTag = `envbox/test-base:${suffix}`;
  const images = [baseTag];
  t.teardown(async () => {
    for (const image of images.reverse()) await engine.getImage(image).remove({ force: true }).catch(() => undefined);
  });
  await importTinyBase(engine, baseTag);

  t.test('buildImage: a local base builds without pulling; ignored files and dev packages are not in the image', async (t) => {
    const dir = await makeTinyContext(t);
    const tag = `envbox/test-build:${suffix}`;
    images.push(tag);
    const cold = await buildImage({ docker: engine, tag, baseImage: baseTag, context: dir, dockerfile: 'Dockerfile', noCache: true });
    t.equal(cold.pull, false, 'the base is local: pull: false, no registry involved');
    t.equal(cold.totalSteps, 3);
    t.equal(cold.cachedSteps, 0);
    t.match(cold.imageId, /^sha256:[0-9a-f]{64}$/);
    const cached = await buildImage({ docker: engine, tag, baseImage: baseTag, context: dir, dockerfile: 'Dockerfile' });
    t.equal(cached.imageId, cold.imageId, 'an unchanged context builds the same image');
    t.equal(cached.cachedSteps, 1, 'COPY comes from the cache');
    t.comment(`tiny image build: cold ${cold.durationMs} ms, cached ${cached.durationMs} ms (${cold.context.fileCount} files)`);

    const inImage = (await imageFiles(engine, tag, '/ctx')).map((name) => name.replace(/^ctx\/?/, '')).filter((name) => name !== '');
    // COPY leaves out what .dockerignore names, the Dockerfile included; the .dockerignore is copied.
    t.same(inImage.sort(), TINY_EXPECTED.filter((name) => name !== 'Dockerfile').sort());
    t.notOk(inImage.includes('secret.txt'));
    t.notOk(inImage.some((name) => name.startsWith('node_modules/d') || name.startsWith('node_modules/e')), 'no dev packages');
  });

  t.test('buildImage: a base the engine lacks (and cannot pull) fails with ImageBuildError naming the fix', async (t) => {
    const dir = await makeTinyContext(t);
    const tag = `envbox/test-build-nobase:${suffix}`;
    images.push(tag);
    const failure = await buildImage({ docker: engine, tag, baseImage: 'envbox/no-such-base:never', context: dir, dockerfile: 'Dockerfile' }).then(
      () => undefined,
      (error: unknown) => error,
    );
    t.ok(failure instanceof ImageBuildError, 'ImageBuildError');
    t.equal((failure as ImageBuildError).code, 'IMAGE_BUILD');
    t.match((failure as Error).message, /^Build of envbox\/test-build-nobase:\S+ failed: /);
    t.match((failure as Error).message, /The base image envbox\/no-such-base:never is not in the engine and could not be pulled; build the offline base/);
    t.match((failure as ImageBuildError).logs, /Step 2\/3 : FROM envbox\/no-such-base:never|Step 2\/3 : FROM \$\{BASE_IMAGE\}/);
  });

  t.test('envbox build-image builds through the CLI, printing lines when not on a TTY', async (t) => {
    const dir = await makeTinyContext(t);
    const tag = `envbox/test-build-cli:${suffix}`;
    images.push(tag);
    const cli = cliContext();
    const outcome = await runCli(['build-image', '--context', dir, '--dockerfile', join(dir, 'Dockerfile'), '--tag', tag, '--base-image', baseTag], cli.context);
    t.same(outcome, { exitCode: 0 }, cli.err());
    t.match(cli.out(), /^Sending build context: \d+ files, 0\.0 MB\n/);
    t.match(cli.out(), /\nStep 3\/3 : COPY \. \/ctx\/\n/);
    t.match(cli.out(), new RegExp(`\\nBuilt ${tag.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\([0-9a-f]{12}\\) in \\d+\\.\\d s, \\d/3 steps from cache\\n$`));
  });
}

/** Import a one-file image (no registry needed) to build FROM. */
async function importTinyBase(engine: DockerEngine, tag: string): Promise<void> {
  const archive = pack();
  archive.entry({ name: 'base.txt' }, 'a local base\n');
  archive.finalize();
  const [repo, version] = tag.split(':') as [string, string];
  const stream = await engine.importImage(archive as unknown as NodeJS.ReadableStream, { repo, tag: version });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const text = chunk.toString();
    if (text.includes('"error"')) throw new Error(`import of ${tag} failed: ${text}`);
  }
}

/** The paths under `path` in `image`, read from a created (never started) container. */
async function imageFiles(engine: DockerEngine, image: string, path: string): Promise<string[]> {
  const container = await engine.createContainer({
    Image: image,
    Cmd: ['/never-run'],
    Labels: { [MANAGED_LABEL]: 'true', [OWNER_LABEL]: `${hostname()}:${process.pid}` },
  });
  try {
    return await tarNames(await container.getArchive({ path }));
  } finally {
    await container.remove({ force: true });
  }
}
