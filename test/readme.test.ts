import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import t from 'tap';
import ts from 'typescript';
import { CLI, ROOT, startCliServer } from './fixtures/cli-process.js';

const run = promisify(execFile);
const README = readFileSync(`${ROOT}README.md`, 'utf8');
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** The first fenced block of `language` after `marker`. */
function blockAfter(marker: string, language: string, from = 0): { text: string; end: number } {
  const start = README.indexOf(marker, from);
  if (start < 0) throw new Error(`README has no ${marker}`);
  const open = README.indexOf(`\`\`\`${language}\n`, start);
  const close = README.indexOf('\n```', open + 4 + language.length);
  return { text: README.slice(open + 4 + language.length, close + 1), end: close + 4 };
}

// Timings and the pool's fill level differ from run to run; everything else must match exactly.
const normalise = (text: string): string =>
  text
    .replace(UUID, '<uuid>')
    .replace(/"duration_ms":[\d.]+/g, '"duration_ms":<ms>')
    .replace(/"pool":\{[^}]*\}/g, '"pool":<pool>')
    .replace(/"(ready|starting|episodes|template_pid|template_forks)":\d+/g, '"$1":<n>')
    .replace(/"episodes_per_second":\{[^}]*\}/g, '"episodes_per_second":<rates>')
    // The episode memory budget follows the machine's memory; what episodes hold, the pool's state.
    .replace(/"(memory_budget_bytes|memory_used_bytes)":\d+/g, '"$1":<bytes>')
    // The host's python3, as the auto choice of the Python backend names it.
    .replace(/Python 3\.\d+\.\d+/g, 'Python <version>')
    .trimEnd();

t.test('the README curl quick start prints what the README says, against the real binary', async (t) => {
  // The default Python backend (auto), as `make run` serves it.
  const { url } = await startCliServer(t, ['--env', 'coding_env']);
  // The Python block, then the JavaScript one, against the same server.
  const python = blockAfter('<!-- quickstart:curl ', 'console');
  const javascript = blockAfter('<!-- quickstart:curl-js', 'console', python.end);
  const steps: { command: string; expected: string[] }[] = [];
  for (const line of `${python.text}${javascript.text}`.split('\n')) {
    if (line.startsWith('$ ')) steps.push({ command: line.slice(2), expected: [] });
    else if (line !== '') steps.at(-1)!.expected.push(line);
  }
  t.ok(steps.length >= 9, 'the quick start has its commands, in both languages');
  for (const { command, expected } of steps) {
    const { stdout } = await run('bash', ['-c', command.replaceAll('localhost:8000', url.replace('http://', ''))]);
    t.equal(normalise(stdout), normalise(expected.join('\n')), command);
  }
});

t.test('the README TypeScript quick start runs and prints what the README says', async (t) => {
  const { url } = await startCliServer(t, ['--env', 'coding_env']);
  const code = blockAfter('<!-- quickstart:ts', 'ts');
  const printed = blockAfter('prints', 'text', code.end);
  const js = ts.transpileModule(code.text.replaceAll('http://127.0.0.1:8000', url), {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
  }).outputText;
  // Inside the package root, `import ... from 'envbox'` resolves to this package (self-reference).
  const file = `${ROOT}.readme-quickstart-${process.pid}.mjs`;
  writeFileSync(file, js);
  t.teardown(() => rmSync(file, { force: true }));
  const { stdout } = await run(process.execPath, [file], { cwd: ROOT });
  t.equal(normalise(stdout), normalise(printed.text));
});

t.test('the README MCP example (the SDK client over stdio to envbox mcp) prints what the README says', async (t) => {
  const code = blockAfter('<!-- quickstart:mcp', 'ts');
  const printed = blockAfter('prints', 'text', code.end);
  // The README starts the published binary with npx; here, the one just built.
  const npx = "command: 'npx', args: ['envbox', ";
  t.ok(code.text.includes(npx), 'the example starts envbox mcp with npx');
  const js = ts.transpileModule(code.text.replace(npx, `command: process.execPath, args: [${JSON.stringify(CLI)}, `), {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
  }).outputText;
  const file = `${ROOT}.readme-mcp-${process.pid}.mjs`;
  writeFileSync(file, js);
  t.teardown(() => rmSync(file, { force: true }));
  const { stdout } = await run(process.execPath, [file], { cwd: ROOT });
  t.equal(normalise(stdout), normalise(printed.text));
});

t.test('the README envbox validate example prints what the README says, against the real binary', async (t) => {
  const { url } = await startCliServer(t, ['--env', 'coding_env']);
  const block = blockAfter('<!-- validate ', 'console');
  const [command, ...expected] = block.text.trimEnd().split('\n');
  t.equal(command, '$ npx envbox validate http://127.0.0.1:8000');
  const { stdout } = await run(process.execPath, [CLI, 'validate', url], { cwd: ROOT });
  // Sessions and episodes get new ids in every run.
  const ids = (text: string): string => text.replace(/[0-9a-f]{8}…/g, '<id>…');
  t.equal(ids(stdout.replaceAll(url, 'http://127.0.0.1:8000')).trimEnd(), ids(expected.join('\n')));
});
