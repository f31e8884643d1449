import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { EnvboxError } from '../../../protocol/index.js';

/** Exit code of a usage error, as the `envbox` command line uses it. */
const EXIT_USAGE = 2;

/** Where the command writes (the `envbox` command line's context satisfies it). */
export interface CommandOutput {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}
import { buildImage, DEFAULT_BASE_IMAGE, DEFAULT_BUILD_CONTEXT, DEFAULT_DOCKERFILE, DEFAULT_IMAGE_TAG } from './build-image.js';
import { createBuildProgressReporter, type ProgressOutput } from './build-progress.js';

/** The options of `envbox build-image`, parsed once. Relative paths are relative to the working directory. */
export const BuildImageCommandOptions = z.strictObject({
  /** An environment package to build an image of (FROM the appliance), instead of the appliance. */
  env: z.string().min(1).optional(),
  tag: z.string().min(1).optional(),
  baseImage: z.string().min(1).optional(),
  dockerfile: z.string().min(1).optional(),
  context: z.string().min(1).optional(),
  noCache: z.boolean().default(false),
});
export type BuildImageCommandOptions = z.infer<typeof BuildImageCommandOptions>;

const USAGE_LINE = 'envbox build-image [--tag <image>] [--base-image <image>] [--dockerfile <path>] [--context <dir>] [--no-cache] [--env <path>]';

function usage(): string {
  return `Build the envbox appliance image through the Docker engine (DOCKER_HOST, else the local socket).

Usage:
  ${USAGE_LINE}

With --env, build an environment package's own appliance instead (envbox init writes its
Dockerfile): FROM ${DEFAULT_IMAGE_TAG}, so the same hardening, user, health check and entry point,
serving that environment. The package must be built (npm run build); its context is the package
folder with its production node_modules/ but envbox (the appliance's own envbox serves it).

Options:
  --env <path>           an environment package folder (its Dockerfile, its folder as the context,
                         tag <package name>:latest, base ${DEFAULT_IMAGE_TAG})
  --tag <image>          the image to make             (default ${DEFAULT_IMAGE_TAG})
  --base-image <image>   build argument BASE_IMAGE     (default ${DEFAULT_BASE_IMAGE});
                         a base the engine has is used without pulling
  --dockerfile <path>    the Dockerfile                (default ${DEFAULT_DOCKERFILE})
  --context <dir>        the build context             (default ${DEFAULT_BUILD_CONTEXT});
                         its .dockerignore applies, node_modules/ holds production packages only
  --no-cache             ignore the build cache
`;
}

/**
 * `envbox build-image`: {@link buildImage} from the command line, with a progress bar on a TTY
 * and plain lines otherwise. Exit code 0 when built, 1 when the build failed, 2 for a usage error.
 */
export const buildImageCommand = {
  usage: USAGE_LINE,
  async run(argv: readonly string[], context: CommandOutput): Promise<{ exitCode: number }> {
    const fail = (message: string): { exitCode: number } => {
      context.stderr.write(`envbox build-image: ${message}\nRun 'envbox build-image --help' for the options.\n`);
      return { exitCode: EXIT_USAGE };
    };
    let values: Record<string, string | boolean | undefined>;
    try {
      ({ values } = parseArgs({
        args: [...argv],
        strict: true,
        allowPositionals: false,
        options: {
          help: { type: 'boolean', short: 'h' },
          env: { type: 'string' },
          tag: { type: 'string', short: 't' },
          'base-image': { type: 'string' },
          dockerfile: { type: 'string', short: 'f' },
          context: { type: 'string' },
          'no-cache': { type: 'boolean' },
        },
      }));
    } catch (error) {
      return fail((error as Error).message);
    }
    if (values.help === true) {
      context.stdout.write(usage());
      return { exitCode: 0 };
    }
    const parsed = BuildImageCommandOptions.safeParse({
      env: values.env,
      tag: values.tag,
      baseImage: values['base-image'],
      dockerfile: values.dockerfile,
      context: values.context,
      noCache: values['no-cache'],
    });
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const flag = `--${String(issue.path[0] ?? '').replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
      return fail(`invalid ${flag}: ${issue.message}`);
    }
    const options = parsed.data;
    let build: Parameters<typeof buildImage>[0];
    if (options.env === undefined) {
      build = {
        tag: options.tag ?? DEFAULT_IMAGE_TAG,
        baseImage: options.baseImage ?? DEFAULT_BASE_IMAGE,
        dockerfile: resolve(options.dockerfile ?? DEFAULT_DOCKERFILE),
        context: resolve(options.context ?? DEFAULT_BUILD_CONTEXT),
      };
    } else {
      const envPackage = await readEnvPackage(resolve(options.env));
      if (typeof envPackage === 'string') {
        context.stderr.write(`envbox build-image: ${envPackage}\n`);
        return { exitCode: EXIT_USAGE };
      }
      build = {
        tag: options.tag ?? `${envPackage.name.replace(/^@/, '').replace('/', '-')}:latest`,
        baseImage: options.baseImage ?? DEFAULT_IMAGE_TAG,
        dockerfile: resolve(options.dockerfile ?? join(envPackage.dir, 'Dockerfile')),
        context: resolve(options.context ?? envPackage.dir),
        omitPackages: ['envbox'],
      };
    }
    const reporter = createBuildProgressReporter(context.stdout as NodeJS.WritableStream & ProgressOutput);
    try {
      await buildImage({ ...build, noCache: options.noCache, onProgress: (event) => reporter.report(event) });
      return { exitCode: 0 };
    } catch (error) {
      reporter.finish();
      if (!(error instanceof EnvboxError)) throw error;
      context.stderr.write(`envbox build-image: ${error.message}\n`);
      return { exitCode: 1 };
    }
  },
};

/**
 * The environment package at `dir`, checked for an image build: a package.json with a name, a
 * Dockerfile, and its entry built. A string says what is missing.
 */
async function readEnvPackage(dir: string): Promise<{ dir: string; name: string } | string> {
  let manifest: { name?: unknown; main?: unknown };
  try {
    manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as typeof manifest;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR'
      ? `invalid --env: ${dir} holds no package.json; expected an environment package folder (envbox init writes one)`
      : `invalid --env: ${join(dir, 'package.json')} is not valid JSON (${(error as Error).message})`;
  }
  if (typeof manifest.name !== 'string' || manifest.name === '') return `invalid --env: ${join(dir, 'package.json')} has no name`;
  if ((await stat(join(dir, 'Dockerfile')).catch(() => undefined)) === undefined) {
    return `invalid --env: ${dir} has no Dockerfile; write one FROM ${DEFAULT_IMAGE_TAG} (envbox init writes one) or give --dockerfile`;
  }
  const main = typeof manifest.main === 'string' ? manifest.main : undefined;
  if (main !== undefined && (await stat(join(dir, main)).catch(() => undefined)) === undefined) {
    return `invalid --env: the package's entry ${join(dir, main)} does not exist; build it first (npm run build)`;
  }
  return { dir, name: manifest.name };
}
