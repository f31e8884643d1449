#!/usr/bin/env node
import { ENVIRONMENTS } from './envs/index.js';
import { createInitCommand, runCli, validateCommand, type CliCommand } from './runtime/index.js';
import { MANIFEST, PACKAGE_DIR, VERSION } from './version.js';

/**
 * `envbox build-image`, loaded on first use, so that `envbox serve` never loads the client's
 * Docker side (dockerode, tar-stream).
 */
const buildImage: CliCommand = {
  usage: 'envbox build-image [--tag <image>] [--env <path>] [options]   (envbox build-image --help)',
  run: async (argv, context) => (await import('./client/index.js')).buildImageCommand.run(argv, context),
};

const outcome = await runCli(process.argv.slice(2), {
  registry: ENVIRONMENTS,
  version: VERSION,
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  commands: { init: createInitCommand(MANIFEST, PACKAGE_DIR), validate: validateCommand, 'build-image': buildImage },
}).catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`envbox: cannot start: ${message}\n`);
  return { exitCode: 1 };
});

if ('exitCode' in outcome) {
  process.exitCode = outcome.exitCode;
} else if ('mcp' in outcome) {
  // envbox mcp: stdin's end (the agent went away) or a signal closes the sessions, then exits.
  const { mcp } = outcome;
  const stop = (): void => void mcp.close().then(() => process.exit(0), () => process.exit(1));
  void mcp.closed.then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('unhandledRejection', (reason) => mcp.service.logger.error('unhandled rejection', { error: reason }));
} else {
  const { server } = outcome;
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      process.stderr.write(`envbox: ${signal} again; exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`envbox: error while stopping: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // A forgotten promise in one session must not take every other session down with the process.
  process.on('unhandledRejection', (reason) => server.app.logger.error('unhandled rejection', { error: reason }));
}
