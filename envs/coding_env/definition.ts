import { readFileSync } from 'node:fs';
import { createLogger, DEFAULT_POOL_SIZE, DEFAULT_PYTHON_BACKEND, type EnvDefinition, type ServeConfig } from '../../runtime/index.js';
import { createPythonBackend, WarmPool, type PythonBackendOptions } from '../../sandbox/index.js';
import { CodeAction, CodeObservation, CodeState } from './models.js';
import { PythonCodeActEnv } from './python-code-act-env.js';
import { defaultTransforms, type RewardTransform } from './transforms/index.js';

const README = readFileSync(new URL('./README.md', import.meta.url), 'utf8');

/** Options of {@link createCodingEnvDefinition}. */
export interface CodingEnvOptions {
  /** The Python sandbox backend. @default 'pyodide' */
  pythonBackend?: ServeConfig['pythonBackend'];
  /** Sandboxes started ahead. @default 4 */
  poolSize?: number;
  /** Limits, output cap, subprocess policy, isolation requirement of the sandboxes. */
  sandbox?: PythonBackendOptions;
  /** The reward pieces, summed. @default safety + quality */
  transforms?: readonly RewardTransform[];
  /** Told about sandboxes that failed to start in the background. */
  onPoolError?: (error: unknown) => void;
}

/**
 * coding_env as the server serves it: probes the sandbox backend, fills the warm pool and returns
 * the definition; its `close()` empties the pool.
 * @throws {IsolationUnavailableError} when isolation is required and the host cannot give it
 */
export async function createCodingEnvDefinition(options: CodingEnvOptions = {}): Promise<EnvDefinition<CodeAction, CodeObservation, CodeState>> {
  const backend = await createPythonBackend(options.pythonBackend ?? DEFAULT_PYTHON_BACKEND, options.sandbox);
  const pool = new WarmPool(backend, { size: options.poolSize ?? DEFAULT_POOL_SIZE, ...(options.onPoolError ? { onError: options.onPoolError } : {}) });
  const transforms = options.transforms ?? defaultTransforms();
  return {
    name: 'coding_env',
    description: 'Runs Python code step by step in a sandbox; state persists within an episode.',
    version: '1.0.0',
    readme: README,
    action: CodeAction,
    observation: CodeObservation,
    state: CodeState,
    create: () => new PythonCodeActEnv(pool, transforms),
    health: () => ({
      isolation: backend.isolation,
      python_backend: backend.backend,
      allow_subprocess: backend.allowSubprocess,
      pool: { ready: pool.readyCount, starting: pool.startingCount, size: pool.size },
    }),
    close: () => pool.close(),
  };
}

/** Build coding_env from the `envbox serve` configuration. */
export function codingEnvFromConfig(config: ServeConfig): ReturnType<typeof createCodingEnvDefinition> {
  const logger = createLogger(config.logLevel);
  return createCodingEnvDefinition({
    onPoolError: (error) => logger.error('a sandbox failed to start in the background; retrying', { error }),
    pythonBackend: config.pythonBackend,
    poolSize: config.poolSize,
    sandbox: {
      maxOutputBytes: config.maxOutputBytes,
      allowSubprocess: config.allowSubprocess,
      requireIsolation: config.requireIsolation,
    },
  });
}
