import { resolve } from 'node:path';
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
  tag: z.string().min(1).default(DEFAULT_IMAGE_TAG),
  baseImage: z.string().min(1).default(DEFAULT_BASE_IMAGE),
  dockerfile: z.string().min(1).default(DEFAULT_DOCKERFILE),
  context: z.string().min(1).default(DEFAULT_BUILD_CONTEXT),
  noCache: z.boolean().default(false),
});
export type BuildImageCommandOptions = z.infer<typeof BuildImageCommandOptions>;

const USAGE_LINE = 'envbox build-image [--tag <image>] [--base-image <image>] [--dockerfile <path>] [--context <dir>] [--no-cache]';

function usage(): string {
  return `Build the envbox appliance image through the Docker engine (DOCKER_HOST, else the local socket).

Usage:
  ${USAGE_LINE}

Options:
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
    const reporter = createBuildProgressReporter(context.stdout as NodeJS.WritableStream & ProgressOutput);
    try {
      await buildImage({
        tag: options.tag,
        baseImage: options.baseImage,
        dockerfile: resolve(options.dockerfile),
        context: resolve(options.context),
        noCache: options.noCache,
        onProgress: (event) => reporter.report(event),
      });
      return { exitCode: 0 };
    } catch (error) {
      reporter.finish();
      if (!(error instanceof EnvboxError)) throw error;
      context.stderr.write(`envbox build-image: ${error.message}\n`);
      return { exitCode: 1 };
    }
  },
};
