import { z } from 'zod';

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

/** Warm sandboxes kept per server by code-running environments. @default 4 */
export const DEFAULT_POOL_SIZE = 4;
/** @default 1 MiB per stream and step */
export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;
/** Python sandbox backends `--python-backend` accepts. */
export const PYTHON_BACKEND_NAMES = ['pyodide', 'process'] as const;
/** Pyodide needs nothing outside npm, so it is the default; `process` (CPython) is one flag away. */
export const DEFAULT_PYTHON_BACKEND = 'pyodide';

/** Languages coding_env runs: Python (the Python backend) and JavaScript (QuickJS). */
export const LANGUAGE_NAMES = ['python', 'javascript'] as const;
/** The language of an episode whose reset names none. */
export const DEFAULT_LANGUAGE = 'python';

/** Configuration of `envbox serve`: what to serve, where, the app's settings and the sandboxes'. */
export const ServeConfig = AppConfig.extend({
  env: z.string().min(1),
  port: z.number().int().min(0).max(65_535).default(DEFAULT_PORT),
  host: z.string().min(1).default(DEFAULT_HOST),
  /** Which sandbox runs Python episodes. */
  pythonBackend: z.enum(PYTHON_BACKEND_NAMES).default(DEFAULT_PYTHON_BACKEND),
  /** Language of episodes whose reset names none. */
  defaultLanguage: z.enum(LANGUAGE_NAMES).default(DEFAULT_LANGUAGE),
  /** Let guest code start processes where namespaces contain them. */
  allowSubprocess: z.boolean().default(false),
  /** Refuse to start without per-episode namespaces. */
  requireIsolation: z.boolean().default(false),
  /** Sandboxes started ahead so reset never waits for a spawn. */
  poolSize: z.number().int().min(0).max(1024).default(DEFAULT_POOL_SIZE),
  /** Cap of each of stdout and stderr per step. */
  maxOutputBytes: z.number().int().min(1024).default(DEFAULT_MAX_OUTPUT_BYTES),
});
export type ServeConfigInput = z.input<typeof ServeConfig>;
export type ServeConfig = z.output<typeof ServeConfig>;

/** One command-line option of `envbox serve`: its flag, its variable and how to read it. */
interface OptionSpec {
  flag: string;
  variable: string;
  /** Further variables read when `variable` is unset, e.g. OpenEnv's `ENABLE_WEB_INTERFACE`. */
  aliases?: readonly string[];
  key: keyof ServeConfig;
  kind: 'string' | 'int' | 'seconds' | 'level' | 'boolean';
  /** A secret: an empty value is an error (not "unset"), and error messages never show the value. */
  secret?: boolean;
  /** What a valid value looks like, for error messages. */
  expected: string;
  help: string;
}

/** The options of `envbox serve`, each readable from a flag or an `ENVBOX_*` variable (the flag wins). */
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
  { flag: 'python-backend', variable: 'ENVBOX_PYTHON_BACKEND', key: 'pythonBackend', kind: 'string', expected: `one of ${PYTHON_BACKEND_NAMES.join(', ')}`, help: `sandbox of Python episodes (default ${DEFAULT_PYTHON_BACKEND})` },
  { flag: 'default-language', variable: 'ENVBOX_DEFAULT_LANGUAGE', key: 'defaultLanguage', kind: 'string', expected: `one of ${LANGUAGE_NAMES.join(', ')}`, help: `language of episodes whose reset names none (default ${DEFAULT_LANGUAGE})` },
  { flag: 'allow-subprocess', variable: 'ENVBOX_ALLOW_SUBPROCESS', key: 'allowSubprocess', kind: 'boolean', expected: 'true or false', help: 'let guest code start processes inside its namespaces' },
  { flag: 'require-isolation', variable: 'ENVBOX_REQUIRE_ISOLATION', key: 'requireIsolation', kind: 'boolean', expected: 'true or false', help: 'refuse to start without per-episode namespaces' },
  { flag: 'pool-size', variable: 'ENVBOX_POOL_SIZE', key: 'poolSize', kind: 'int', expected: 'an integer from 0 to 1024', help: `sandboxes started ahead (default ${DEFAULT_POOL_SIZE})` },
  { flag: 'max-output-bytes', variable: 'ENVBOX_MAX_OUTPUT_BYTES', key: 'maxOutputBytes', kind: 'int', expected: 'an integer number of bytes of at least 1024', help: `cap of stdout and of stderr per step (default ${DEFAULT_MAX_OUTPUT_BYTES})` },
  { flag: 'web', variable: 'ENVBOX_WEB', aliases: ['ENABLE_WEB_INTERFACE'], key: 'web', kind: 'boolean', expected: 'true or false', help: 'serve the web interface at /web (also ENABLE_WEB_INTERFACE)' },
  { flag: 'token', variable: 'ENVBOX_TOKEN', key: 'token', kind: 'string', secret: true, expected: 'a non-empty secret', help: 'require Authorization: Bearer <token> on every route but /health and on /ws' },
  { flag: 'log-level', variable: 'ENVBOX_LOG_LEVEL', key: 'logLevel', kind: 'level', expected: `one of ${LOG_LEVELS.join(', ')}`, help: `${LOG_LEVELS.join('|')} (default info)` },
];

/** A bad option value; `message` names the option, what was expected and what came. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * Parse `envbox serve` options from flag values and the environment, once, with zod.
 * @param flags raw flag values by flag name (without `--`), as `util.parseArgs` gives them
 * @param env the process environment to read `ENVBOX_*` variables from
 * @throws {ConfigError} naming the first bad option, the expected and the received value
 */
export function parseServeConfig(flags: Readonly<Record<string, string | boolean | undefined>>, env: NodeJS.ProcessEnv): ServeConfig {
  const raw: Record<string, unknown> = {};
  const sources = new Map<string, string>();
  for (const option of SERVE_OPTIONS) {
    const fromFlag = flags[option.flag];
    const variable = variableOf(option, env);
    const value = fromFlag ?? env[variable];
    if (value === undefined || (value === '' && option.secret !== true)) continue;
    sources.set(option.key, fromFlag === undefined ? variable : `--${option.flag}`);
    raw[option.key] = convert(option, value);
  }
  const parsed = ServeConfig.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const key = String(issue.path[0]);
  const option = SERVE_OPTIONS.find((o) => o.key === key);
  const name = sources.get(key) ?? (option === undefined ? key : `--${option.flag}`);
  const given = option === undefined ? undefined : (flags[option.flag] ?? env[variableOf(option, env)]);
  const received = given === undefined ? undefined : String(given);
  const shown = received === undefined ? 'nothing' : option?.secret === true && received !== '' ? 'a value (hidden)' : JSON.stringify(received);
  const expected = option === undefined ? issue.message : `expected ${option.expected}`;
  throw new ConfigError(`invalid ${name}: ${expected}, received ${shown}`);
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
