import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import type { CliCommand } from '../cli.js';
import { scaffoldFiles, type ScaffoldNames, type ScaffoldVersions } from './templates.js';

/** Exit code of a usage error, as the `envbox` command line uses it. */
const EXIT_USAGE = 2;

const USAGE_LINE = 'envbox init <dir> [--name <env_name>] [--envbox <npm spec>]';

/** Words a name cannot be: the generated TypeScript uses it in names and strings. */
const RESERVED = new Set(
  'break case catch class const continue debugger default delete do else enum export extends false finally for function if import in instanceof new null return super switch this throw true try typeof var void while with yield let static implements interface package private protected public await envbox zod'.split(
    ' ',
  ),
);

/** The parts of envbox's own package.json the new package's versions come from. */
export interface EnvboxManifest {
  version: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

/**
 * Why `name` cannot name an environment, or undefined when it can: an identifier of letters,
 * digits and `_`, starting with a letter (it becomes the package name in lower case and the
 * prefix of the generated types), at most 64 characters, not a reserved word.
 */
export function invalidEnvName(name: string): string | undefined {
  if (name === '') return 'it is empty';
  if (name.length > 64) return `it has ${name.length} characters; at most 64`;
  const bad = /[^A-Za-z0-9_]/.exec(name);
  if (bad !== null) return `${JSON.stringify(bad[0])} is not allowed: use letters, digits and _ (e.g. ${name.replace(/[^A-Za-z0-9_]+/g, '_').replace(/^[^A-Za-z]+/, '') || 'my_env'})`;
  if (!/^[A-Za-z]/.test(name)) return 'it must start with a letter';
  if (RESERVED.has(name.toLowerCase())) return `${name} is a reserved word`;
  return undefined;
}

/** The names the templates use for environment `env`. */
export function scaffoldNames(env: string): ScaffoldNames {
  const pascal = env
    .split('_')
    .filter((part) => part !== '')
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');
  return { env, pkg: env.toLowerCase(), pascal };
}

function usage(): string {
  return `Write a new environment package: a working example (guess the number) to make your own, with
its zod models, environment, typed client, tests (the conformance kit among them), README,
Dockerfile and package.json (build, test, serve scripts). It builds, tests and serves with npm alone:

  cd <dir> && npm install && npm test && npm run serve

Usage:
  ${USAGE_LINE}

Options:
  --name <env_name>    the environment's name: letters, digits and _, starting with a letter
                       (default: the folder's name)
  --envbox <spec>      how the package depends on envbox (its dev dependency), as npm install
                       takes it, e.g. file:../envbox-0.1.0.tgz (default: ^<this version> where
                       envbox is installed from a registry; file:<checkout> run from a checkout)

Refuses a folder that exists and is not empty.
`;
}

/**
 * `envbox init <dir>`: {@link scaffoldFiles} written to a new (or empty) folder. Exit code 0 when
 * written, 1 when the folder cannot be written, 2 for a usage error (a bad name, a folder not empty).
 */
export function createInitCommand(manifest: EnvboxManifest, packageDir?: string): CliCommand {
  // Installed (under node_modules/), envbox is a registry's: the new package takes a range of it.
  // A checkout (make install) is no registry's: the new package links it, so npm install works.
  const checkout = packageDir !== undefined && !packageDir.split(sep).includes('node_modules') ? packageDir.replace(/[\\/]+$/, '') : undefined;
  const defaultEnvbox = checkout === undefined ? `^${manifest.version}` : `file:${checkout}`;
  return {
    usage: USAGE_LINE,
    async run(argv, context) {
      const fail = (message: string): { exitCode: number } => {
        context.stderr.write(`envbox init: ${message}\n`);
        return { exitCode: EXIT_USAGE };
      };
      let values: Record<string, string | boolean | undefined>;
      let positionals: string[];
      try {
        ({ values, positionals } = parseArgs({
          args: [...argv],
          strict: true,
          allowPositionals: true,
          options: { help: { type: 'boolean', short: 'h' }, name: { type: 'string' }, envbox: { type: 'string' } },
        }));
      } catch (error) {
        return fail(`${(error as Error).message}\nRun 'envbox init --help' for the options.`);
      }
      if (values.help === true) {
        context.stdout.write(usage());
        return { exitCode: 0 };
      }
      if (positionals.length !== 1) {
        return fail(positionals.length === 0 ? 'missing the folder; expected e.g. envbox init blackjack' : `expected one folder, received ${positionals.length}: ${positionals.join(' ')}`);
      }
      const dir = resolve(context.cwd ?? process.cwd(), positionals[0]!);
      const env = typeof values.name === 'string' ? values.name : basename(dir);
      const invalid = invalidEnvName(env);
      if (invalid !== undefined) {
        const source = typeof values.name === 'string' ? '--name' : `the folder's name (give --name to choose another)`;
        return fail(`invalid environment name ${JSON.stringify(env)} from ${source}: ${invalid}`);
      }
      const existing = await readdir(dir).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? [] : error));
      if (existing instanceof Error) {
        return existing.code === 'ENOTDIR' ? fail(`${dir} exists and is not a folder`) : fail(`cannot read ${dir}: ${existing.message}`);
      }
      if (existing.length > 0) return fail(`${dir} is not empty (${existing.slice(0, 3).join(', ')}${existing.length > 3 ? ', ...' : ''}); refusing to overwrite it`);
      if (typeof values.envbox === 'string' && values.envbox.trim() === '') return fail('invalid --envbox: expected an npm spec such as ^0.1.0 or file:../envbox.tgz');

      const versions: ScaffoldVersions = {
        envbox: typeof values.envbox === 'string' ? values.envbox : defaultEnvbox,
        envboxVersion: manifest.version,
        zod: manifest.dependencies?.zod ?? '^4',
        typescript: manifest.devDependencies?.typescript ?? '^5',
        typesNode: manifest.devDependencies?.['@types/node'] ?? '^20',
      };
      const names = scaffoldNames(env);
      const files = scaffoldFiles(names, versions);
      try {
        for (const [path, text] of Object.entries(files)) {
          await mkdir(dirname(join(dir, path)), { recursive: true });
          await writeFile(join(dir, path), text, { flag: 'wx' });
        }
      } catch (error) {
        context.stderr.write(`envbox init: cannot write ${dir}: ${(error as Error).message}\n`);
        return { exitCode: 1 };
      }
      const shown = positionals[0]!;
      context.stdout.write(
        `envbox init: wrote ${names.env} (package ${names.pkg}) in ${dir}: ${Object.keys(files).sort().join(', ')}\n` +
          `It depends on envbox ${versions.envbox}.\n\n` +
          `Next:\n  cd ${shown}\n  npm install\n  npm test                 # build, unit tests, the conformance kit\n  npm run serve            # envbox serve --env . --web\n  npm run build-image      # the appliance image ${names.pkg}:latest\n`,
      );
      return { exitCode: 0 };
    },
  };
}
