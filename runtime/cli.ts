import { parseArgs } from 'node:util';
import { AppConfig, ConfigError, envOptionSpecs, parseEnvOptions, parseServeConfig, SERVE_OPTIONS, type OptionSpec, type ServeConfig } from './config.js';
import { EnvLoadError, EnvNotFoundError, loadEnvironment } from './env-loader.js';
import { createLogger } from './logger.js';
import type { EnvFactory } from '../protocol/index.js';
import { startStdioMcp, type StdioMcp } from './mcp/stdio.js';
import { startServer, type EnvboxServer } from './server.js';

/** Exit code of a usage error (bad option, unknown command). */
export const EXIT_USAGE = 2;

/**
 * A subcommand besides `serve` (e.g. `build-image`), registered by the entry point: runtime/
 * only dispatches to it, knowing nothing of what it does.
 */
export interface CliCommand {
  /** Its usage line, e.g. `envbox build-image [--tag <image>]`, shown by `--help`. */
  usage: string;
  /** Run it with the arguments after its name; exit code 2 for a usage error. */
  run(argv: readonly string[], context: CliContext): Promise<{ exitCode: number }>;
}

/** Where the CLI writes and what it serves; injectable for tests. */
export interface CliContext {
  /** Environments `--env` can name, each with its own options, built at start. */
  registry: Readonly<Record<string, EnvFactory>>;
  /** The package version, for `--version`. */
  version: string;
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** What `envbox mcp` reads requests from. @default process.stdin */
  stdin?: NodeJS.ReadableStream;
  /** Subcommands besides `serve`, by name. */
  commands?: Readonly<Record<string, CliCommand>>;
  /** Where a path or package given to `--env` is resolved from. @default process.cwd() */
  cwd?: string;
}

/** What the CLI started: a server to keep running, an MCP server on stdio, or an exit code to leave with. */
export type CliOutcome = { server: EnvboxServer; config: ServeConfig } | { mcp: StdioMcp; config: ServeConfig } | { exitCode: number };

/** Options of `serve` that `envbox mcp` (stdio, no HTTP) has no use for. */
const HTTP_ONLY_OPTIONS = new Set(['port', 'host', 'web', 'token', 'ws-ping-interval-s', 'request-timeout-s', 'max-body-bytes']);

/** Each registered environment's own options, by environment name. */
function envSpecs(context: CliContext): [string, OptionSpec[]][] {
  return Object.entries(context.registry).map(([name, factory]) => [name, factory.options === undefined ? [] : envOptionSpecs(factory.options)]);
}

/** The value of `--env`, read before the full parse (which needs the loaded environment's flags), else `ENVBOX_ENV`. */
function envSpecOf(argv: readonly string[], env: NodeJS.ProcessEnv): string | undefined {
  const { values } = parseArgs({ args: [...argv], strict: false, allowPositionals: true, options: { env: { type: 'string' } } });
  const spec = typeof values.env === 'string' ? values.env : undefined;
  return spec ?? (env.ENVBOX_ENV === '' ? undefined : env.ENVBOX_ENV);
}

function optionLines(specs: readonly OptionSpec[]): string {
  return specs.map((o) => `  --${o.flag.padEnd(20)} ${o.variable.padEnd(26)} ${o.help}`).join('\n');
}

function usage(context: CliContext): string {
  const perEnv = envSpecs(context)
    .filter(([, specs]) => specs.length > 0)
    .map(([name, specs]) => `\nOptions of --env ${name}:\n${optionLines(specs)}\n`)
    .join('');
  return `envbox ${context.version}: sandboxed code-execution environments over the OpenEnv protocol

Usage:
  envbox serve --env <name> [options]   (<name>: built-in, a path such as ., or an installed package)
  envbox mcp --env <name> [options]   (MCP on stdio for a local agent; the options of serve but HTTP's)
${Object.values(context.commands ?? {})
  .map((command) => `  ${command.usage}\n`)
  .join('')}  envbox --help | --version

Options of serve (flag, or environment variable; the flag wins):
${optionLines(SERVE_OPTIONS)}
${perEnv}
Environments: ${Object.keys(context.registry).join(', ')}; or a path to a module or package
directory (--env .), or an installed package, whose default export is an environment definition
(or a factory { options, create }); its options show above with --env <it> --help.
`;
}

/**
 * Run the `envbox` command line: parse `argv` (without `node` and the script) once, with zod,
 * and start the server. A bad option is reported on stderr, naming it, with exit code 2.
 */
export async function runCli(argv: readonly string[], context: CliContext): Promise<CliOutcome> {
  const fail = (message: string): CliOutcome => {
    context.stderr.write(`envbox: ${message}\nRun 'envbox --help' for the options.\n`);
    return { exitCode: EXIT_USAGE };
  };
  // An environment that does not load: its one-line reason, exit 2.
  const loadFailed = (error: EnvLoadError): CliOutcome => {
    context.stderr.write(`envbox: ${error.message}\n`);
    return { exitCode: EXIT_USAGE };
  };
  const [name] = argv;
  // Other commands have options of their own: theirs to parse.
  if (name !== undefined && context.commands !== undefined && Object.hasOwn(context.commands, name)) {
    return context.commands[name]!.run(argv.slice(1), context);
  }
  // An environment from outside envbox (a path or a package) is loaded before the options are
  // parsed: its options are flags too, and `--help` shows them.
  const spec = envSpecOf(argv, context.env);
  if (spec !== undefined && !Object.hasOwn(context.registry, spec)) {
    try {
      const loaded = await loadEnvironment(spec, context.cwd ?? process.cwd());
      context = { ...context, registry: { ...context.registry, [spec]: loaded.factory } };
    } catch (error) {
      if (error instanceof EnvNotFoundError) {
        return fail(`invalid --env: expected one of ${Object.keys(context.registry).join(', ')}, received ${JSON.stringify(spec)} (${error.reason})`);
      }
      if (error instanceof EnvLoadError) return loadFailed(error);
      throw error;
    }
  }
  // Every environment's flags parse, so that a shared command line (`make run ENV=...`) works for
  // each; the served environment reads its own, and the others' are reported as ignored.
  const perEnv = envSpecs(context);
  const flagTypes = [...SERVE_OPTIONS, ...perEnv.flatMap(([, specs]) => specs)].map((o) => [o.flag, { type: o.kind === 'boolean' ? ('boolean' as const) : ('string' as const) }]);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        ...Object.fromEntries(flagTypes),
      },
    });
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    context.stdout.write(usage(context));
    return { exitCode: 0 };
  }
  if (values.version === true) {
    context.stdout.write(`${context.version}\n`);
    return { exitCode: 0 };
  }
  const [command, ...rest] = positionals;
  if ((command !== 'serve' && command !== 'mcp') || rest.length > 0) {
    const expected = ['serve', 'mcp', ...Object.keys(context.commands ?? {})].join(' or ');
    return fail(command === undefined ? `missing command; expected ${expected}` : `unknown command ${JSON.stringify(positionals.join(' '))}; expected ${expected}`);
  }
  let config: ServeConfig;
  try {
    config = parseServeConfig(values as Record<string, string | boolean | undefined>, context.env);
  } catch (error) {
    if (error instanceof ConfigError) return fail(error.message);
    throw error;
  }
  const factory = context.registry[config.env];
  if (factory === undefined || !Object.hasOwn(context.registry, config.env)) {
    const names = Object.keys(context.registry).join(', ');
    return fail(`invalid --env: expected one of ${names}, received ${JSON.stringify(config.env)}`);
  }
  const flags = values as Record<string, string | boolean | undefined>;
  let options: unknown;
  try {
    options = factory.options === undefined ? {} : parseEnvOptions(factory.options, flags, context.env);
  } catch (error) {
    if (error instanceof ConfigError) return fail(error.message);
    throw error;
  }
  const own = new Set([...SERVE_OPTIONS, ...(perEnv.find(([name]) => name === config.env)?.[1] ?? [])].map((o) => o.flag));
  for (const [name, specs] of perEnv) {
    for (const spec of specs) {
      if (!own.has(spec.flag) && flags[spec.flag] !== undefined) context.stderr.write(`envbox: --${spec.flag} is an option of ${name}; ${config.env} ignores it\n`);
    }
  }
  if (command === 'mcp') {
    for (const flag of HTTP_ONLY_OPTIONS) {
      if (flags[flag] !== undefined) context.stderr.write(`envbox: --${flag} is an option of serve; envbox mcp (stdio) ignores it\n`);
    }
  }
  const logger = createLogger(config.logLevel, context.stderr);
  let definition;
  try {
    definition = await factory.create(options as never, { logger });
  } catch (error) {
    if (error instanceof EnvLoadError) return loadFailed(error);
    throw error;
  }
  // Every AppConfig field, taken from the schema so that a new app option cannot be forgotten here.
  const appConfig = Object.fromEntries(Object.keys(AppConfig.shape).map((key) => [key, config[key as keyof AppConfig]]));
  if (command === 'mcp') {
    // stdout carries the protocol only; everything else (the logger's JSON lines) goes to stderr.
    const mcp = await startStdioMcp(definition, { ...appConfig, token: undefined, web: false }, { stdout: context.stdout, ...(context.stdin ? { stdin: context.stdin } : {}), logger });
    logger.info('serving MCP on stdio', { env: definition.name, ...definition.health?.() });
    return { mcp, config };
  }
  const server = await startServer(definition, { ...appConfig, port: config.port, host: config.host, logger });
  context.stdout.write(
    `envbox ${context.version}: serving ${definition.name} on ${server.url} (max ${config.maxSessions} sessions); Ctrl+C to stop\n`,
  );
  if (config.web) context.stdout.write(`web interface: ${server.url}/web\n`);
  // The environment's own facts (e.g. which isolation its sandboxes got) belong in the start log.
  server.app.logger.info('serving', { env: definition.name, url: server.url, ...definition.health?.() });
  return { server, config };
}
