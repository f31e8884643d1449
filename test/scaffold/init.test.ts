import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { buildImageCommand } from '../../client/index.js';
import { ENVIRONMENTS } from '../../envs/index.js';
import { createInitCommand, EXIT_USAGE, invalidEnvName, runCli, scaffoldNames, type CliContext } from '../../runtime/index.js';
import { MANIFEST } from '../../version.js';

function cli(cwd: string) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: string[] = [];
  const err: string[] = [];
  stdout.on('data', (chunk: Buffer) => out.push(chunk.toString()));
  stderr.on('data', (chunk: Buffer) => err.push(chunk.toString()));
  const ctx: CliContext = { registry: ENVIRONMENTS, version: MANIFEST.version, env: {}, stdout, stderr, cwd, commands: { init: createInitCommand(MANIFEST), 'build-image': buildImageCommand } };
  return { ctx, out: () => out.join(''), err: () => err.join('') };
}

const FILES = ['.dockerignore', '.gitignore', 'Dockerfile', 'README.md', 'package.json', 'src/client.ts', 'src/environment.ts', 'src/index.ts', 'src/models.ts', 'test/guess_it.test.ts', 'tsconfig.json'];

t.test('envbox init <dir>: a package with every file the issue names, its names derived from the folder or --name', async (t) => {
  const dir = t.testdir({ taken: { 'keep.txt': 'mine' }, empty: {} });
  const run = cli(dir);
  t.same(await runCli(['init', 'guess_it'], run.ctx), { exitCode: 0 }, run.err());
  const written = (sub: string): string[] =>
    readdirSync(join(dir, sub), { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name).slice(join(dir, sub).length + 1))
      .sort();
  t.same(written('guess_it'), FILES);
  const manifest = JSON.parse(readFileSync(join(dir, 'guess_it', 'package.json'), 'utf8'));
  t.match(manifest, {
    name: 'guess_it',
    type: 'module',
    scripts: { build: String, test: /node --test/, serve: /envbox serve --env \./ },
    dependencies: { zod: MANIFEST.dependencies!.zod },
    peerDependencies: { envbox: `^${MANIFEST.version}` },
    devDependencies: { envbox: `^${MANIFEST.version}`, typescript: MANIFEST.devDependencies!.typescript },
  });
  t.match(readFileSync(join(dir, 'guess_it', 'src', 'client.ts'), 'utf8'), /export class GuessItEnv extends EnvClient/);
  t.match(readFileSync(join(dir, 'guess_it', 'Dockerfile'), 'utf8'), /FROM \$\{BASE_IMAGE\}[\s\S]*CMD \["--env", "guess_it"\]/);
  t.match(run.out(), /wrote guess_it \(package guess_it\)[^\n]*\nIt depends on envbox \^/);

  // An empty folder is fine; --name names the environment; --envbox the dependency.
  const named = cli(dir);
  t.same(await runCli(['init', 'empty', '--name', 'Dice_Game', '--envbox', 'file:../envbox.tgz'], named.ctx), { exitCode: 0 }, named.err());
  const diceManifest = JSON.parse(readFileSync(join(dir, 'empty', 'package.json'), 'utf8'));
  t.match(diceManifest, { name: 'dice_game', devDependencies: { envbox: 'file:../envbox.tgz' } });
  t.match(readFileSync(join(dir, 'empty', 'src', 'index.ts'), 'utf8'), /name: 'Dice_Game'/);
  t.match(readFileSync(join(dir, 'empty', 'src', 'models.ts'), 'utf8'), /export const DiceGameAction/);

  // A folder that is not empty is refused, and nothing in it is touched.
  const refused = cli(dir);
  t.same(await runCli(['init', 'taken'], refused.ctx), { exitCode: EXIT_USAGE });
  t.match(refused.err(), /taken is not empty \(keep\.txt\); refusing to overwrite it/);
  t.same(readdirSync(join(dir, 'taken')), ['keep.txt']);
  t.equal(readFileSync(join(dir, 'taken', 'keep.txt'), 'utf8'), 'mine');
  writeFileSync(join(dir, 'a-file'), 'x');
  const notFolder = cli(dir);
  t.same(await runCli(['init', 'a-file', '--name', 'ok'], notFolder.ctx), { exitCode: EXIT_USAGE });
  t.match(notFolder.err(), /a-file exists and is not a folder/);
});

t.test('a name that is not an identifier is an error that says why', async (t) => {
  const cases: [string, RegExp][] = [
    ['my-game', /"-" is not allowed: use letters, digits and _ \(e\.g\. my_game\)/],
    ['my game', /" " is not allowed/],
    ['9lives', /it must start with a letter/],
    ['_private', /it must start with a letter/],
    ['class', /class is a reserved word/],
    ['', /it is empty/],
    ['a'.repeat(65), /at most 64/],
  ];
  for (const [name, why] of cases) t.match(invalidEnvName(name), why, JSON.stringify(name));
  for (const name of ['blackjack', 'echo_env', 'Guess2', 'a']) t.equal(invalidEnvName(name), undefined, name);
  t.same(scaffoldNames('guess_the_number'), { env: 'guess_the_number', pkg: 'guess_the_number', pascal: 'GuessTheNumber' });

  const dir = t.testdir({});
  for (const [argv, why] of [
    [['init', 'my-game'], /invalid environment name "my-game" from the folder's name \(give --name to choose another\): "-" is not allowed/],
    [['init', 'x', '--name', '1st'], /invalid environment name "1st" from --name: it must start with a letter/],
    [['init'], /missing the folder; expected e\.g\. envbox init blackjack/],
    [['init', 'a', 'b'], /expected one folder, received 2/],
    [['init', 'x', '--colour'], /Unknown option '--colour'/],
  ] as const) {
    const run = cli(dir);
    t.same(await runCli([...argv], run.ctx), { exitCode: EXIT_USAGE }, argv.join(' '));
    t.match(run.err(), why);
  }
  t.same(readdirSync(dir), [], 'nothing written');
  const help = cli(dir);
  t.same(await runCli(['init', '--help'], help.ctx), { exitCode: 0 });
  t.match(help.out(), /envbox init <dir> \[--name <env_name>\]/);
});

t.test('envbox build-image --env <path>: what is missing is said before any build', async (t) => {
  const dir = t.testdir({
    'no-manifest': {},
    'no-dockerfile': { 'package.json': JSON.stringify({ name: 'nd', main: 'index.js' }), 'index.js': '' },
    unbuilt: { 'package.json': JSON.stringify({ name: 'ub', main: 'dist/src/index.js' }), Dockerfile: 'FROM scratch\n' },
    'bad-json': { 'package.json': '{', Dockerfile: 'FROM scratch\n' },
  });
  const cases: [string, RegExp][] = [
    ['no-manifest', /invalid --env: .*no-manifest holds no package\.json; expected an environment package folder/],
    ['no-dockerfile', /invalid --env: .*no-dockerfile has no Dockerfile; write one FROM envbox\/appliance:latest/],
    ['unbuilt', /invalid --env: the package's entry .*unbuilt\/dist\/src\/index\.js does not exist; build it first \(npm run build\)/],
    ['bad-json', /invalid --env: .*bad-json\/package\.json is not valid JSON/],
  ];
  for (const [folder, why] of cases) {
    const run = cli(dir);
    t.same(await buildImageCommand.run(['--env', join(dir, folder)], run.ctx), { exitCode: EXIT_USAGE }, folder);
    t.match(run.err(), why, folder);
  }
  const help = cli(dir);
  t.same(await buildImageCommand.run(['--help'], help.ctx), { exitCode: 0 });
  t.match(help.out(), /--env <path>\s+an environment package folder/);
  t.notOk(existsSync(join(dir, 'no-manifest', 'Dockerfile')));
});

t.test('run from a checkout, init links it (file:<checkout>); installed under node_modules, it takes a range', async (t) => {
  const dir = t.testdir({});
  const fromCheckout = cli(dir);
  fromCheckout.ctx.commands = { init: createInitCommand(MANIFEST, '/src/envbox') };
  t.same(await runCli(['init', 'a'], fromCheckout.ctx), { exitCode: 0 });
  t.match(JSON.parse(readFileSync(join(dir, 'a', 'package.json'), 'utf8')), { devDependencies: { envbox: 'file:/src/envbox' }, peerDependencies: { envbox: `^${MANIFEST.version}` } });
  t.match(fromCheckout.out(), /It depends on envbox file:\/src\/envbox\./);
  const installed = cli(dir);
  installed.ctx.commands = { init: createInitCommand(MANIFEST, '/app/node_modules/envbox/') };
  t.same(await runCli(['init', 'b'], installed.ctx), { exitCode: 0 });
  t.match(JSON.parse(readFileSync(join(dir, 'b', 'package.json'), 'utf8')), { devDependencies: { envbox: `^${MANIFEST.version}` } });
});
