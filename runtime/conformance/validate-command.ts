import { parseArgs } from 'node:util';
import type { CliCommand } from '../cli.js';
import type { EnvFactory } from '../../protocol/index.js';
import { ConfigError, parseEnvOptions } from '../config.js';
import { EnvLoadError, loadEnvironment } from '../env-loader.js';
import { createLogger } from '../logger.js';
import { formatReport } from './report.js';
import { validateEnvironment } from './validate-environment.js';
import { CONFORMANCE_CHECKS, DEFAULT_VALIDATE_TIMEOUT_MS, parseTarget, validateServer } from './validate-server.js';

/** Exit code of a usage error, as the `envbox` command line uses it. */
const EXIT_USAGE = 2;

const USAGE_LINE = "envbox validate <url | path | package | name> [--json] [--token <token>] [--action '<json>'] [--timeout-s <s>] [--wait-s <s>]";

function usage(): string {
  const width = Math.max(...CONFORMANCE_CHECKS.map((check) => check.name.length));
  return `Check a running envbox (or OpenEnv) server against the protocol: one line per check, then a summary.
Given a path (envbox validate .), an installed package or a built-in environment's name instead of
a URL, serve that environment on a free loopback port (as envbox serve --env would, its options
from ENVBOX_* variables) and check it.
Exit code 0 when every check passes, 1 when one fails, 2 for a usage error or an environment that
does not load.

Usage:
  ${USAGE_LINE}

Options:
  --json              print the report as JSON instead of lines
  --token <token>     the server's bearer token              (or ENVBOX_TOKEN)
  --action '<json>'   the action to step with                (default: the action schema's
                      examples[0], else one derived from the schema)
  --timeout-s <s>     each request's deadline, in seconds    (default ${DEFAULT_VALIDATE_TIMEOUT_MS / 1000})
  --wait-s <s>        first wait up to this long for GET /health to answer 200 (a server just
                      started, a container coming up); the checks run either way  (default 0)

Checks:
${CONFORMANCE_CHECKS.map((check) => `  ${check.name.padEnd(width)}  ${check.description}`).join('\n')}
`;
}

/** `envbox validate <url>`: the conformance kit ({@link validateServer}) from the command line. */
export const validateCommand: CliCommand = {
  usage: USAGE_LINE,
  async run(argv, context) {
    const fail = (message: string): { exitCode: number } => {
      context.stderr.write(`envbox validate: ${message}\nRun 'envbox validate --help' for the options.\n`);
      return { exitCode: EXIT_USAGE };
    };
    let values: Record<string, string | boolean | undefined>;
    let positionals: string[];
    try {
      ({ values, positionals } = parseArgs({
        args: [...argv],
        strict: true,
        allowPositionals: true,
        options: {
          help: { type: 'boolean', short: 'h' },
          json: { type: 'boolean' },
          token: { type: 'string' },
          action: { type: 'string' },
          'timeout-s': { type: 'string' },
          'wait-s': { type: 'string' },
        },
      }));
    } catch (error) {
      return fail((error as Error).message);
    }
    if (values.help === true) {
      context.stdout.write(usage());
      return { exitCode: 0 };
    }
    if (positionals.length !== 1) {
      return fail(
        positionals.length === 0
          ? 'missing the server URL; expected e.g. envbox validate http://127.0.0.1:8000 (or an environment: envbox validate .)'
          : `expected one server URL or environment, received ${positionals.length}: ${positionals.join(' ')}`,
      );
    }
    let action: unknown;
    if (typeof values.action === 'string') {
      try {
        action = JSON.parse(values.action);
      } catch (error) {
        return fail(`invalid --action: expected JSON such as '{"message": "hi"}', received ${JSON.stringify(values.action)} (${(error as Error).message})`);
      }
    }
    let timeoutMs = DEFAULT_VALIDATE_TIMEOUT_MS;
    if (typeof values['timeout-s'] === 'string') {
      const seconds = Number(values['timeout-s']);
      if (!(seconds > 0 && seconds <= 3600)) return fail(`invalid --timeout-s: expected a number of seconds from 0 (excluded) to 3600, received ${JSON.stringify(values['timeout-s'])}`);
      timeoutMs = seconds * 1000;
    }
    let waitMs = 0;
    if (typeof values['wait-s'] === 'string') {
      const seconds = Number(values['wait-s']);
      if (!(seconds >= 0 && seconds <= 3600)) return fail(`invalid --wait-s: expected a number of seconds from 0 to 3600, received ${JSON.stringify(values['wait-s'])}`);
      waitMs = seconds * 1000;
    }
    const token = typeof values.token === 'string' ? values.token : context.env.ENVBOX_TOKEN;
    const target = positionals[0]!;
    const check = { timeoutMs, ...(action === undefined ? {} : { action }) };
    let report;
    try {
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
        if (waitMs > 0) await waitForHealth(parseTarget(target), waitMs);
        report = await validateServer(target, { ...check, ...(token === undefined || token === '' ? {} : { token }) });
      } else {
        let factory: EnvFactory;
        if (Object.hasOwn(context.registry, target)) factory = context.registry[target]!;
        else factory = (await loadEnvironment(target, context.cwd ?? process.cwd())).factory;
        const options = factory.options === undefined ? {} : parseEnvOptions(factory.options, {}, context.env);
        const definition = await factory.create(options as never, { logger: createLogger('error') });
        report = await validateEnvironment(definition, {
          ...check,
          ...(values.json === true ? {} : { onListening: (url: string) => context.stdout.write(`serving ${target} (${definition.name}) at ${url} for the checks\n\n`) }),
        });
      }
    } catch (error) {
      if (error instanceof EnvLoadError) {
        context.stderr.write(`envbox validate: ${error.message}\n`);
        return { exitCode: EXIT_USAGE };
      }
      if (error instanceof ConfigError) return fail(error.message);
      throw error;
    }
    context.stdout.write(values.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return { exitCode: report.passed ? 0 : 1 };
  },
};

/** How often {@link waitForHealth} asks. @default 100 ms */
const HEALTH_POLL_MS = 100;

/**
 * Ask `GET /health` until it answers 200 or `waitMs` has passed (a server still starting refuses
 * connections). Returns either way: the checks then say what is wrong.
 */
async function waitForHealth(target: string, waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return;
    try {
      const response = await fetch(`${target}/health`, { signal: AbortSignal.timeout(Math.min(left, 2000)) });
      await response.body?.cancel();
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(HEALTH_POLL_MS, Math.max(0, deadline - Date.now()))));
  }
}
