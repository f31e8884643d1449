import { readdir, readFile } from 'node:fs/promises';
import { z } from 'zod';
import { BenchError } from './bench-error.js';
import { processTreeMemory } from './process-tree-memory.js';

/** Give up on one /health or /metrics request after this long. @default 10 s */
const PROBE_TIMEOUT_MS = 10_000;

/** The /metrics values a soak sample keeps, each summed over its labels. */
export const SAMPLED_METRICS = [
  'envbox_sessions',
  'envbox_steps_total',
  'envbox_errors_total',
  'envbox_sandbox_starts_total',
  'envbox_sandbox_kills_total',
  'envbox_process_resident_memory_bytes',
  'envbox_process_open_fds',
  'envbox_nodejs_heap_size_used_bytes',
  'envbox_nodejs_external_memory_bytes',
  'envbox_nodejs_eventloop_lag_p99_seconds',
  'envbox_episode_memory_used_bytes',
  'envbox_episode_memory_refusals_total',
] as const;

/** The server's process tree at one moment, read from /proc. */
export interface ProcessSnapshot {
  /** Resident set of the server's own Node process (VmRSS), in bytes. */
  serverRssBytes: number;
  /** Proportional set size summed over the server and every descendant (its sandboxes), in bytes. */
  treePssBytes: number;
  /** Open file descriptors of the server's own process (`/proc/<pid>/fd`). */
  serverFds: number;
  /** Processes in the tree, the server included. */
  processes: number;
  /** Threads summed over the tree. */
  threads: number;
}

/** What the server said about itself at one moment. */
export interface ServerReport {
  /** `active_sessions` of /health. */
  activeSessions: number;
  /** Ready sandboxes per language's warm pool, and the pools' sizes (from /health). */
  pools: Record<string, { ready: number; size: number }>;
  /** {@link SAMPLED_METRICS} from /metrics, summed over labels; absent when the server does not export one. */
  metrics: Partial<Record<(typeof SAMPLED_METRICS)[number], number>>;
}

const Health = z.looseObject({
  active_sessions: z.number(),
  pools: z.record(z.string(), z.looseObject({ ready: z.number(), size: z.number() })).optional(),
});

/**
 * Read the process tree of `pid` from /proc.
 * @throws {BenchError} when the process is gone or /proc cannot be read
 */
export async function snapshotProcessTree(pid: number): Promise<ProcessSnapshot> {
  const tree = await processTreeMemory(pid);
  let threads = 0;
  for (const member of tree.pids) {
    const status = await readFile(`/proc/${member}/status`, 'utf8').catch(() => '');
    threads += Number(/^Threads:\s+(\d+)$/m.exec(status)?.[1] ?? 0);
  }
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rssKb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (rssKb === undefined) throw new BenchError(`/proc/${pid}/status has no "VmRSS: <n> kB" line.`);
  const fds = await readdir(`/proc/${pid}/fd`);
  return { serverRssBytes: Number(rssKb) * 1024, treePssBytes: tree.pssBytes, serverFds: fds.length, processes: tree.pids.length, threads };
}

/**
 * Ask the server at `baseUrl` for /health and /metrics.
 * @throws {BenchError} when either does not answer 200 with what it should
 */
export async function probeServer(baseUrl: string): Promise<ServerReport> {
  const [healthResponse, metricsResponse] = await Promise.all([
    fetch(new URL('/health', baseUrl), { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) }),
    fetch(new URL('/metrics', baseUrl), { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) }),
  ]);
  if (!healthResponse.ok) throw new BenchError(`GET /health answered ${healthResponse.status}, expected 200.`);
  if (!metricsResponse.ok) throw new BenchError(`GET /metrics answered ${metricsResponse.status}, expected 200.`);
  const health = Health.parse(await healthResponse.json());
  const pools: ServerReport['pools'] = {};
  for (const [language, pool] of Object.entries(health.pools ?? {})) pools[language] = { ready: pool.ready, size: pool.size };
  return { activeSessions: health.active_sessions, pools, metrics: parseMetrics(await metricsResponse.text()) };
}

/** {@link SAMPLED_METRICS} from Prometheus exposition text, each summed over its label sets. */
export function parseMetrics(text: string): ServerReport['metrics'] {
  const wanted = new Set<string>(SAMPLED_METRICS);
  const values: ServerReport['metrics'] = {};
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (match === null || !wanted.has(match[1]!)) continue;
    const name = match[1] as (typeof SAMPLED_METRICS)[number];
    values[name] = (values[name] ?? 0) + Number(match[2]);
  }
  return values;
}
