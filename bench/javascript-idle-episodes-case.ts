import { readFile } from 'node:fs/promises';
import type { BenchCase, BenchCaseContext, BenchCaseResult } from './bench-case.js';
import { BenchError } from './bench-error.js';

/** Bytes in a MiB, as the report prints memory. */
const BYTES_PER_MIB = 1024 ** 2;
/** What each idle episode ran before the memory was read: a little state of its own. */
export const IDLE_EPISODE_CODE = "const data = Array.from({ length: 100 }, (_, i) => ({ i, s: 'x' + i })); data.length";
const IDLE_EPISODE_RESULT = '100';
const METRIC = 'idle JS episodes';

/** Options of {@link javascriptIdleEpisodesCase}. */
export interface JavaScriptIdleEpisodesCaseOptions {
  /** Episodes held open at once in a full run. */
  episodes: number;
  /** In a `--quick` run. */
  quickEpisodes: number;
  /** The server's resident set with all of them open must stay below this. */
  maxServerRssBytes: number;
}

/**
 * How many JavaScript episodes one server holds: opens that many HTTP sessions, starts a
 * JavaScript episode in each and gives it some state, then reads the server's resident set
 * (`VmRSS`: its worker threads and their QuickJS memories live in it). Closes them all after.
 * The server needs `--max-sessions` above the count.
 */
export function javascriptIdleEpisodesCase(options: JavaScriptIdleEpisodesCaseOptions): BenchCase {
  return { name: 'idle JavaScript episodes', run: (context) => runCase(options, context) };
}

async function serverRssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (match === null) throw new BenchError(`/proc/${pid}/status has no VmRSS line.`);
  return Number(match[1]) * 1024;
}

async function call(baseUrl: string, method: string, path: string, session?: string, body?: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(new URL(path, baseUrl), {
    method,
    headers: { 'content-type': 'application/json', ...(session === undefined ? {} : { 'x-session-id': session }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const parsed = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new BenchError(`${method} ${path} answered ${response.status}: ${JSON.stringify(parsed).slice(0, 300)}`);
  return parsed;
}

async function runCase(options: JavaScriptIdleEpisodesCaseOptions, context: BenchCaseContext): Promise<BenchCaseResult> {
  const count = context.quick ? options.quickEpisodes : options.episodes;
  const before = await serverRssBytes(context.serverPid);
  context.progress(`idle JavaScript episodes: opening ${count} sessions, each with a JavaScript episode holding some state`);
  const sessions: string[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const { session_id: id } = (await call(context.baseUrl, 'POST', '/sessions')) as { session_id: string };
      sessions.push(id);
      await call(context.baseUrl, 'POST', '/reset', id, { language: 'javascript' });
      const stepped = (await call(context.baseUrl, 'POST', '/step', id, { action: { code: IDLE_EPISODE_CODE } })) as { metadata: { result: unknown } };
      if (stepped.metadata.result !== IDLE_EPISODE_RESULT) throw new BenchError(`Episode ${i} answered ${JSON.stringify(stepped)}.`);
    }
    const after = await serverRssBytes(context.serverPid);
    const health = (await call(context.baseUrl, 'GET', '/health')) as { javascript?: { workers?: number; episodes?: number } };
    const perEpisode = (after - before) / count;
    const pass = after < options.maxServerRssBytes;
    return {
      name: 'idle JavaScript episodes',
      metrics: [
        {
          via: 'http',
          metric: METRIC,
          result: `${count} in ${(after / BYTES_PER_MIB).toFixed(0)} MiB`,
          detail: `server VmRSS ${(before / BYTES_PER_MIB).toFixed(0)} -> ${(after / BYTES_PER_MIB).toFixed(0)} MiB with ${count} sessions open (${(perEpisode / BYTES_PER_MIB).toFixed(2)} MiB each), ${health.javascript?.workers ?? '?'} worker threads`,
        },
      ],
      checks: [{ transport: 'http', metric: METRIC, target: `< ${options.maxServerRssBytes / BYTES_PER_MIB} MiB`, ratio: after / options.maxServerRssBytes, pass }],
      data: { episodes: count, rssBeforeBytes: before, rssAfterBytes: after, perEpisodeBytes: perEpisode, workers: health.javascript?.workers ?? null },
    };
  } finally {
    for (const id of sessions) await call(context.baseUrl, 'DELETE', `/sessions/${id}`).catch(() => undefined);
  }
}
