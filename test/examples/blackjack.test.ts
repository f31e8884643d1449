import { execFile } from 'node:child_process';
import { lstat, mkdir, readdir, readFile, realpath, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { CONFORMANCE_CHECKS, ValidationReport } from 'envbox/testing';
import { CLI, ROOT, startCliServer } from '../fixtures/cli-process.js';

/** The example, as `envbox init examples/blackjack` wrote it and as it grew from there. */
const EXAMPLE = join(ROOT, 'examples/blackjack');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

/** Run `node <args>` from the repository's root; its exit code and what it printed (never throws). */
function runNode(args: string[], timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: ROOT, env: { PATH: process.env.PATH ?? '' }, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * The example imports 'envbox': this repository, as `npm install` links its `file:../..`
 * dependency. Make that link when it is missing (node_modules is git-ignored); zod, typescript
 * and @types/node resolve from the repository's node_modules, up the tree.
 */
async function linkEnvbox(): Promise<void> {
  const link = join(EXAMPLE, 'node_modules/envbox');
  const existing = await lstat(link).catch(() => undefined);
  if (existing === undefined) {
    await mkdir(join(EXAMPLE, 'node_modules'), { recursive: true });
    await symlink('../../..', link, 'dir');
  }
  const target = await realpath(link);
  if (target !== (await realpath(ROOT))) throw new Error(`${link} resolves to ${target}, not to this repository ${ROOT}; remove it and run this test again`);
}

t.before(async () => {
  await linkEnvbox();
  // Built once for every test below, with the repository's TypeScript, as `npm run build` in the example does.
  const build = await runNode([TSC, '-p', join(EXAMPLE, 'tsconfig.json')]);
  if (build.code !== 0) throw new Error(`tsc -p examples/blackjack/tsconfig.json exited ${build.code}:\n${build.stdout}${build.stderr}`);
});

t.test("the example's own tests pass: rules on stacked shoes, seeds, rewards, the conformance kit", async (t) => {
  const dir = join(EXAMPLE, 'dist/test');
  const files = (await readdir(dir)).filter((name) => name.endsWith('.test.js')).map((name) => join(dir, name));
  t.ok(files.length >= 5, `test files: ${files.join(', ')}`);
  const { code, stdout, stderr } = await runNode(['--test', ...files]);
  t.equal(code, 0, `${stdout}${stderr}`);
  t.match(stdout, /^# fail 0$/m);
  t.notMatch(stdout, /^# pass 0$/m);
});

t.test('served by the real CLI: envbox validate <url> passes every check, over HTTP and WebSocket', async (t) => {
  const { url } = await startCliServer(t, ['--env', 'examples/blackjack']);
  const { code, stdout } = await runNode([CLI, 'validate', url, '--json']);
  t.equal(code, 0, stdout);
  const report = ValidationReport.parse(JSON.parse(stdout));
  t.match(report, { passed: true, env: { name: 'blackjack', version: '0.1.0' }, sample_action: { action: { action: 'hit' }, source: 'schema examples' } });
  t.same(
    report.checks.map((check) => [check.name, check.status]),
    CONFORMANCE_CHECKS.map((check) => [check.name, 'pass']),
  );
  t.ok(
    report.checks.some((check) => check.name.startsWith('http_')) && report.checks.some((check) => check.name.startsWith('ws_')),
    'HTTP and WebSocket checks both ran',
  );
});

t.test('envbox validate examples/blackjack (the path form) passes', async (t) => {
  const { code, stdout } = await runNode([CLI, 'validate', 'examples/blackjack']);
  t.equal(code, 0, stdout);
  t.match(stdout, new RegExp(`^valid: .+ \\(blackjack 0\\.1\\.0\\): ${CONFORMANCE_CHECKS.length} of ${CONFORMANCE_CHECKS.length} checks passed$`, 'm'));
});

t.test('the random-policy rollout over WebSocket against the served example prints its summary', async (t) => {
  const { url } = await startCliServer(t, ['--env', 'examples/blackjack', '--decks', '2']);
  const { code, stdout, stderr } = await runNode([join(EXAMPLE, 'dist/scripts/rollout.js'), '--episodes', '200', '--url', url, '--seed', '1']);
  t.equal(code, 0, stderr);
  t.equal(stderr, '');
  const line = (pattern: RegExp): RegExpExecArray => {
    const match = pattern.exec(stdout);
    if (match === null) throw new Error(`no line matching ${pattern} in:\n${stdout}`);
    return match;
  };
  t.equal(line(/^blackjack rollout: (\d+) episodes, random policy, (\d+) WebSocket clients, (\S+), seeds 1\.\.\.$/m).slice(1).join(' '), `200 8 ${url}`);
  const mean = Number(line(/^mean return: (-?\d+\.\d{3}) \(standard error (\d+\.\d{3})\)$/m)[1]);
  t.ok(mean >= -1 && mean <= 1, `mean return ${mean} in [-1, 1]`);
  const rates = ['win', 'push', 'loss'].map((name) => Number(line(new RegExp(`^${name} rate: (\\d+\\.\\d)%$`, 'm'))[1]));
  t.ok(Math.abs(rates.reduce((a, b) => a + b, 0) - 100) < 0.2, `rates ${rates.join(' + ')} sum to 100%`);
  t.ok(rates[2]! > rates[0]!, 'a random policy loses more than it wins');
  t.ok(Math.abs(mean - (rates[0]! - rates[2]!) / 100) < 0.002, 'the mean return is the win rate less the loss rate');
  const [, perSecond, episodes] = line(/^episodes\/s: (\d+) \((\d+) episodes in \d+\.\d{2} s\)$/m);
  t.equal(Number(episodes), 200);
  t.ok(Number(perSecond) > 0);
  const again = await runNode([join(EXAMPLE, 'dist/scripts/rollout.js'), '--episodes', '200', '--url', url, '--seed', '1', '--clients', '3']);
  t.equal(/^mean return: .*$/m.exec(again.stdout)?.[0], /^mean return: .*$/m.exec(stdout)?.[0], 'a seeded rollout gives the same return whatever the clients');
});

t.test('the build output and the link stay out of git: the scaffold wrote the .gitignore', async (t) => {
  const ignored = (await readFile(join(EXAMPLE, '.gitignore'), 'utf8')).split('\n');
  t.ok(ignored.includes('node_modules/') && ignored.includes('dist/'), ignored.join(' '));
});
