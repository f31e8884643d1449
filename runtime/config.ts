import { z } from 'zod';
import { EnvboxError, envOptionMeta } from '../protocol/index.js';

/** @default 8000 */
export const DEFAULT_PORT = 8000;
/** @default '127.0.0.1' (loopback only: expose deliberately) */
export const DEFAULT_HOST = '127.0.0.1';
/** @default 64 */
export const DEFAULT_MAX_SESSIONS = 64;
/** @default 600 s */
export const DEFAULT_SESSION_IDLE_MS = 600_000;
/** Maximum (and default) time budget of one step. @default 30 s */
export const DEFAULT_STEP_TIMEOUT_MS = 30_000;
/** @default 1 MiB */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/** How often WebSocket peers are pinged; a peer that missed the previous pong is dropped. @default 30 s */
export const DEFAULT_WS_PING_INTERVAL_MS = 30_000;
/** A request's headers and body must arrive within this (slow or stalled uploads get 408). @default 30 s */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
/** Verbosity of the server log (JSON lines on stderr). */
export const LogLevel = z.enum(LOG_LEVELS);
export type LogLevel = z.infer<typeof LogLevel>;

/** Configuration of the Koa app and its session manager (everything but where to listen). */
export const AppConfig = z.strictObject({
  /** Sessions open at once (default session, `/sessions` and WebSocket ones together). */
  maxSessions: z.number().int().min(1).max(100_000).default(DEFAULT_MAX_SESSIONS),
  /** A session without calls for this long is closed. */
  sessionIdleMs: z.number().positive().default(DEFAULT_SESSION_IDLE_MS),
  /** Cap (and default) of a step's `timeout_s`. */
  stepTimeoutMs: z.number().positive().default(DEFAULT_STEP_TIMEOUT_MS),
  /** Bodies and WebSocket messages larger than this are refused (413). */
  maxBodyBytes: z.number().int().min(1).default(DEFAULT_MAX_BODY_BYTES),
  /** WebSocket keep-alive ping interval. */
  wsPingIntervalMs: z.number().positive().default(DEFAULT_WS_PING_INTERVAL_MS),
  /** A request's headers and body must arrive within this; 408 `REQUEST_TIMEOUT` otherwise. */
  requestTimeoutMs: z.number().positive().default(DEFAULT_REQUEST_TIMEOUT_MS),
  logLevel: LogLevel.default('info'),
  /** Serve the web interface (`GET /web`): a page to drive the environment by hand. */
  web: z.boolean().default(false),
  /**
   * Require `Authorization: Bearer <token>` on every route but `/health` and on the `/ws` upgrade.
   * @default undefined (no auth)
   */
  token: z.string().min(1).optional(),
});
/** Input form of {@link AppConfig}: every field optional. */
export type AppConfigInput = z.input<typeof AppConfig>;
export type AppConfig = z.output<typeof AppConfig>;

/**
 * Configuration of `envbox serve`: what to serve, where, and the app's settings. The served
 * environment's own options are its own schema's (see {@link parseEnvOptions}).
 */
export const ServeConfig = AppConfig.extend({
  env: z.string().min(1),
  port: z.number().int().min(0).max(65_535).default(DEFAULT_PORT),
  host: z.string().min(1).default(DEFAULT_HOST),
});
export type ServeConfigInput = z.input<typeof ServeConfig>;
export type ServeConfig = z.output<typeof ServeConfig>;

/** One command-line option of `envbox serve`: its flag, its variable and how to read it. */
export interface OptionSpec {
  flag: string;
  variable: string;
  /** Further variables read when `variable` is unset, e.g. OpenEnv's `ENABLE_WEB_INTERFACE`. */
  aliases?: readonly string[];
  /** The field of the option schema it sets. */
  key: string;
  kind: 'string' | 'int' | 'seconds' | 'level' | 'boolean';
  /** A secret: an empty value is an error (not "unset"), and error messages never show the value. */
  secret?: boolean;
  /** What a valid value looks like, for error messages. */
  expected: string;
  help: string;
}

/** The server's own options of `envbox serve`, each readable from a flag or an `ENVBOX_*` variable (the flag wins). */
export const SERVE_OPTIONS: readonly OptionSpec[] = [
  { flag: 'env', variable: 'ENVBOX_ENV', key: 'env', kind: 'string', expected: 'an environment name such as echo_env', help: 'environment to serve (required)' },
  { flag: 'port', variable: 'ENVBOX_PORT', key: 'port', kind: 'int', expected: 'an integer from 0 to 65535', help: `port, 0 for any (default ${DEFAULT_PORT})` },
  { flag: 'host', variable: 'ENVBOX_HOST', key: 'host', kind: 'string', expected: 'a host name or address', help: `address to bind (default ${DEFAULT_HOST})` },
  { flag: 'max-sessions', variable: 'ENVBOX_MAX_SESSIONS', key: 'maxSessions', kind: 'int', expected: 'an integer from 1 to 100000', help: `sessions open at once (default ${DEFAULT_MAX_SESSIONS})` },
  { flag: 'session-idle-s', variable: 'ENVBOX_SESSION_IDLE_S', key: 'sessionIdleMs', kind: 'seconds', expected: 'a number of seconds greater than 0', help: `close sessions idle this long (default ${DEFAULT_SESSION_IDLE_MS / 1000})` },
  { flag: 'step-timeout-s', variable: 'ENVBOX_STEP_TIMEOUT_S', key: 'stepTimeoutMs', kind: 'seconds', expected: 'a number of seconds greater than 0', help: `maximum and default step time (default ${DEFAULT_STEP_TIMEOUT_MS / 1000})` },
  { flag: 'max-body-bytes', variable: 'ENVBOX_MAX_BODY_BYTES', key: 'maxBodyBytes', kind: 'int', expected: 'an integer number of bytes of at least 1', help: `largest request body or WS message (default ${DEFAULT_MAX_BODY_BYTES})` },
  { flag: 'ws-ping-interval-s', variable: 'ENVBOX_WS_PING_INTERVAL_S', key: 'wsPingIntervalMs', kind: 'seconds', expected: 'a number of seconds greater than 0', help: `WebSocket ping interval (default ${DEFAULT_WS_PING_INTERVAL_MS / 1000})` },
  { flag: 'request-timeout-s', variable: 'ENVBOX_REQUEST_TIMEOUT_S', key: 'requestTimeoutMs', kind: 'seconds', expected: 'a number of seconds greater than 0', help: `time to receive a request's headers and body (default ${DEFAULT_REQUEST_TIMEOUT_MS / 1000})` },
  { flag: 'web', variable: 'ENVBOX_WEB', aliases: ['ENABLE_WEB_INTERFACE'], key: 'web', kind: 'boolean', expected: 'true or false', help: 'serve the web interface at /web (also ENABLE_WEB_INTERFACE)' },
  { flag: 'token', variable: 'ENVBOX_TOKEN', key: 'token', kind: 'string', secret: true, expected: 'a non-empty secret', help: 'require Authorization: Bearer <token> on every route but /health and on /ws' },
  { flag: 'log-level', variable: 'ENVBOX_LOG_LEVEL', key: 'logLevel', kind: 'level', expected: `one of ${LOG_LEVELS.join(', ')}`, help: `${LOG_LEVELS.join('|')} (default info)` },
];

/** `INVALID_CONFIG`: a bad option value; `message` names the option, what was expected and what came. */
export class ConfigError extends EnvboxError {
  constructor(message: string) {
    super('INVALID_CONFIG', 0, message);
  }
}

/**
 * Parse `envbox serve`'s own options from flag values and the environment, once, with zod.
 * @param flags raw flag values by flag name (without `--`), as `util.parseArgs` gives them
 * @param env the process environment to read `ENVBOX_*` variables from
 * @throws {ConfigError} naming the first bad option, the expected and the received value
 */
export function parseServeConfig(flags: Readonly<Record<string, string | boolean | undefined>>, env: NodeJS.ProcessEnv): ServeConfig {
  return parseOptions(SERVE_OPTIONS, ServeConfig, flags, env);
}

/**
 * The command-line options of an environment, derived from its option schema: field
 * `pythonBackend` is `--python-backend` and `ENVBOX_PYTHON_BACKEND`; booleans are switches,
 * numbers integers; help and the expected value come from {@link envOption}'s metadata.
 * @throws {Error} for a field without that metadata (a bug of the environment's definition)
 */
export function envOptionSpecs(schema: z.ZodObject): OptionSpec[] {
  return Object.entries(schema.shape).map(([key, field]) => {
    const meta = envOptionMeta(field as z.ZodType);
    if (meta === undefined) throw new Error(`Option ${key} of the environment has no envOption() metadata (help and expected value).`);
    const flag = key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
    const inner = unwrap(field as z.ZodType);
    const kind = inner instanceof z.ZodBoolean ? 'boolean' : inner instanceof z.ZodNumber ? 'int' : 'string';
    return { flag, variable: `ENVBOX_${flag.replaceAll('-', '_').toUpperCase()}`, key, kind, expected: meta.expected, help: meta.help };
  });
}

/**
 * Parse an environment's options (its schema, see {@link envOptionSpecs}) from flag values and
 * the environment, with the same rules and messages as the server's own options.
 * @throws {ConfigError} naming the first bad option, the expected and the received value
 */
export function parseEnvOptions<S extends z.ZodObject>(schema: S, flags: Readonly<Record<string, string | boolean | undefined>>, env: NodeJS.ProcessEnv): z.output<S> {
  return parseOptions(envOptionSpecs(schema), schema, flags, env);
}

function parseOptions<S extends z.ZodType>(
  specs: readonly OptionSpec[],
  schema: S,
  flags: Readonly<Record<string, string | boolean | undefined>>,
  env: NodeJS.ProcessEnv,
): z.output<S> {
  const raw: Record<string, unknown> = {};
  const sources = new Map<string, string>();
  for (const option of specs) {
    const fromFlag = flags[option.flag];
    const variable = variableOf(option, env);
    const value = fromFlag ?? env[variable];
    if (value === undefined || (value === '' && option.secret !== true)) continue;
    sources.set(option.key, fromFlag === undefined ? variable : `--${option.flag}`);
    raw[option.key] = convert(option, value);
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const key = String(issue.path[0]);
  const option = specs.find((o) => o.key === key);
  const name = sources.get(key) ?? (option === undefined ? key : `--${option.flag}`);
  const given = option === undefined ? undefined : (flags[option.flag] ?? env[variableOf(option, env)]);
  const received = given === undefined ? undefined : String(given);
  const shown = received === undefined ? 'nothing' : option?.secret === true && received !== '' ? 'a value (hidden)' : JSON.stringify(received);
  const expected = option === undefined ? issue.message : `expected ${option.expected}`;
  throw new ConfigError(`invalid ${name}: ${expected}, received ${shown}`);
}

/** The schema inside defaults and optionals. */
function unwrap(schema: z.ZodType): z.ZodType {
  let inner = schema;
  while (inner instanceof z.ZodDefault || inner instanceof z.ZodOptional) inner = inner.unwrap() as z.ZodType;
  return inner;
}

/** The variable `option` is read from: its own, or the first alias set (non-empty) in `env`. */
function variableOf(option: OptionSpec, env: NodeJS.ProcessEnv): string {
  if (env[option.variable] !== undefined && env[option.variable] !== '') return option.variable;
  return option.aliases?.find((alias) => env[alias] !== undefined && env[alias] !== '') ?? option.variable;
}

function convert(option: OptionSpec, value: string | boolean): unknown {
  if (typeof value === 'boolean') return value;
  switch (option.kind) {
    case 'boolean':
      return /^(1|true|yes|on)$/i.test(value) ? true : /^(0|false|no|off)$/i.test(value) ? false : value;
    case 'string':
    case 'level':
      return value;
    case 'int':
      return /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
    case 'seconds': {
      const seconds = /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : Number.NaN;
      return Number.isNaN(seconds) ? value : seconds * 1000;
    }
  }
}
