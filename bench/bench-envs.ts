import { EchoEnv, type EnvClient, type EnvClientOptions } from '../index.js';

/** The transports a client can use; each is measured separately. */
export type BenchTransport = 'http' | 'ws';

/** Both transports, in the order they are measured and printed. */
export const BENCH_TRANSPORTS: readonly BenchTransport[] = ['http', 'ws'];

/** One session as the harness drives it: the environment's typed client with its sample action bound. */
export interface BenchClient {
  /** Start an episode (opens the session on first use). */
  reset(): Promise<unknown>;
  /** One step with the environment's sample action. */
  step(): Promise<unknown>;
  /** Close the session. Idempotent. */
  close(): Promise<void>;
}

/** What an environment is expected to reach on the benchmark machine; each missing field is not checked. */
export interface BenchTargets {
  /** Single-client step latency p50 must be below this, on every transport. */
  stepP50MaxMs?: number;
  /** Throughput with {@link throughputSessions} concurrent sessions must be at least this. */
  throughputMinStepsPerS?: number;
  /** How many concurrent sessions the throughput target is for; all of them must be admitted. */
  throughputSessions?: number;
}

/** How the harness benchmarks one environment. */
export interface BenchEnv {
  /** A client of this environment's typed API, one session per client. */
  openClient(options: { baseUrl: string; transport: BenchTransport }): BenchClient;
  /** The action every step sends, as recorded in the results. */
  sampleAction: unknown;
  targets: BenchTargets;
}

/** What a table entry gives: its client class (as a factory) and a valid action for it. */
interface BenchEnvSpec<A, O, S> {
  createClient(options: EnvClientOptions): EnvClient<A, O, S>;
  sampleAction: A;
  targets?: BenchTargets;
}

/** Bind an environment's typed client to its sample action, keeping the action type-checked. */
function benchEnv<A, O, S>(spec: BenchEnvSpec<A, O, S>): BenchEnv {
  return {
    openClient({ baseUrl, transport }) {
      const client = spec.createClient({ baseUrl, transport });
      return {
        reset: () => client.reset(),
        step: () => client.step(spec.sampleAction),
        close: () => client.close(),
      };
    },
    sampleAction: spec.sampleAction,
    targets: spec.targets ?? {},
  };
}

/**
 * Every environment `run.js --env <name>` can benchmark, by the name `envbox serve --env` knows.
 * A new environment adds one entry, e.g.
 * `coding_env: benchEnv({ createClient: (o) => new CodingEnv(o), sampleAction: { code: 'print(1)' } })`.
 */
export const BENCH_ENVS: Readonly<Record<string, BenchEnv>> = Object.freeze({
  echo_env: benchEnv({
    createClient: (options) => new EchoEnv(options),
    sampleAction: { message: 'hello' },
    // Targets on the 2-core reference machine.
    targets: { stepP50MaxMs: 0.3, throughputMinStepsPerS: 5000, throughputSessions: 16 },
  }),
});
