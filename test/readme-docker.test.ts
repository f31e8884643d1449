import { rmSync, readFileSync, writeFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import t from 'tap';
import ts from 'typescript';
import { ensureApplianceImage, probeDocker, skipFile } from './fixtures/docker.js';

// The README's Docker quick start, run as written against the real engine.
const ROOT = new URL('../', import.meta.url).pathname;
const README = readFileSync(`${ROOT}README.md`, 'utf8');
const run = promisify(execFile);

/** The first fenced block of `language` after `marker`. */
function blockAfter(marker: string, language: string, from = 0): { text: string; end: number } {
  const start = README.indexOf(marker, from);
  if (start < 0) throw new Error(`README has no ${marker}`);
  const open = README.indexOf(`\`\`\`${language}\n`, start);
  const close = README.indexOf('\n```', open + 4 + language.length);
  return { text: README.slice(open + 4 + language.length, close + 1), end: close + 4 };
}

const probe = await probeDocker();
if (probe.engine === undefined) {
  skipFile(t, probe.reason);
} else {
  const image = await ensureApplianceImage(probe.engine);
  if (image.reason !== undefined) {
    skipFile(t, image.reason);
  } else {
    t.test('the README Docker quick start launches the appliance and prints what the README says', async (t) => {
      const code = blockAfter('<!-- quickstart:docker-ts', 'ts');
      const printed = blockAfter('prints', 'text', code.end);
      const js = ts.transpileModule(code.text, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } }).outputText;
      // Inside the package root, `import ... from 'envbox'` resolves to this package (self-reference).
      const file = `${ROOT}.readme-docker-${process.pid}.mjs`;
      writeFileSync(file, js);
      t.teardown(() => rmSync(file, { force: true }));
      const { stdout } = await run(process.execPath, [file], { cwd: ROOT, timeout: 120_000 });
      t.equal(stdout.trimEnd(), printed.text.trimEnd());
    });
  }
}
