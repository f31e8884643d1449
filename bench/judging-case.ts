import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { CodingEnv, SAMPLE_TASKS_DIR, TaskSet, type EvaluateItem, type Language } from '../index.js';
import type { BenchCase, BenchCaseContext, BenchCaseResult } from './bench-case.js';
import { BenchError } from './bench-error.js';
import { measureLatency, warmUp, type LatencyResult } from './measure.js';
import { findPackageRoot } from './package-root.js';
import { formatMs as ms } from './report.js';
import { ServerProcess } from './server-process.js';

/** Options of {@link judgingCase}. */
export interface JudgingCaseOptions {
  /** Submissions per language in one `POST /evaluate` (a full run). */
  items: number;
  /** The same in a `--quick` run. */
  quickItems: number;
  /** Timed submits (and plain steps) for the latency rows, per language. */
  submits: number;
  quickSubmits: number;
  /** More arguments of the judging server's `envbox serve`. */
  serverArgs: readonly string[];
}

/**
 * Judging throughput and latency (issue 20), against a server of its own serving the sample task
 * set (`--tasks`), so the server under test keeps its free-form episodes: one `POST /evaluate` of
 * the sample's reference solutions per language (every one must score 1), then the added latency of
 * a `submit` over a plain step of the same code, per language.
 */
export function judgingCase(options: JudgingCaseOptions): BenchCase {
  return { name: 'judging', run: (context) => runCase(options, context) };
}

async function runCase(options: JudgingCaseOptions, context: BenchCaseContext): Promise<BenchCaseResult> {
  const root = findPackageRoot();
  const sampleDir = fileURLToPath(SAMPLE_TASKS_DIR);
  const tasks = TaskSet.load(sampleDir).all();
  const items = context.quick ? options.quickItems : options.items;
  const submits = context.quick ? options.quickSubmits : options.submits;
  await using server = await ServerProcess.start({
    cliPath: join(root, 'dist', 'cli.js'),
    cwd: root,
    env: 'coding_env',
    maxSessions: 64,
    extraArgs: ['--tasks', sampleDir, '--max-evaluate-items', String(Math.max(items, 1)), ...options.serverArgs],
    logLevel: 'warn',
  });
  const env = new CodingEnv({ baseUrl: server.url, timeoutMs: 600_000 });
  try {
    const batches: Record<string, { items: number; seconds: number; perS: number; tests: number }> = {};
    const latency: Record<string, { step: LatencyResult; submit: LatencyResult }> = {};
    for (const language of ['python', 'javascript'] as const satisfies readonly Language[]) {
      const own = tasks.filter((task) => task.language === language);
      const batch: EvaluateItem[] = Array.from({ length: items }, (_, i) => ({ task_id: own[i % own.length]!.id, code: own[i % own.length]!.solution! }));
      context.progress(`judging: POST /evaluate of ${items} ${language} reference solutions`);
      await env.evaluate(batch.slice(0, Math.min(8, items))); // warm-up: the pools and the judge's testers
      await context.settle();
      const started = performance.now();
      const results = await env.evaluate(batch);
      const seconds = (performance.now() - started) / 1000;
      const wrong = results.findIndex((result) => !('reward' in result) || result.reward !== 1);
      if (wrong >= 0) throw new BenchError(`judging: item ${wrong} (${batch[wrong]!.task_id}) did not score 1: ${JSON.stringify(results[wrong])}`);
      const tests = results.reduce((sum, result) => sum + ('total' in result ? result.total : 0), 0);
      batches[language] = { items, seconds, perS: items / seconds, tests };

      // A submit against a plain step of the same code, in episodes of one task.
      const task = own[0]!;
      context.progress(`judging: ${submits} submits and ${submits} plain steps of ${task.id}`);
      const step = async () => {
        await env.reset({ task_id: task.id });
        return env.step({ code: task.solution! });
      };
      const submit = async () => {
        await env.reset({ task_id: task.id });
        const result = await env.step({ code: task.solution!, submit: true });
        if (result.reward !== 1) throw new BenchError(`judging: a submit of ${task.id}'s reference scored ${result.reward}`);
      };
      await warmUp(submit, Math.min(10, submits));
      // Each timed call is a reset and an action: the reset's share cancels out in the difference.
      latency[language] = { step: await measureLatency(step, submits), submit: await measureLatency(submit, submits) };
      const { step: stepped, submit: submitted } = latency[language];
      if (stepped.latency === undefined || submitted.latency === undefined || Object.keys(submitted.errors).length > 0) {
        throw new BenchError(`judging: ${language} calls failed: steps ${JSON.stringify(stepped.errors)}, submits ${JSON.stringify(submitted.errors)}`);
      }
    }
    const metrics = (['python', 'javascript'] as const).flatMap((language) => {
      const batch = batches[language]!;
      const { step, submit } = latency[language]!;
      return [
        {
          via: 'http',
          metric: `judging: ${language} /evaluate`,
          result: `${batch.perS.toFixed(1)} submissions/s`,
          detail: `${batch.items} sample references (${batch.tests} tests) in ${batch.seconds.toFixed(2)} s, all scored 1`,
        },
        {
          via: 'http',
          metric: `judging: ${language} submit`,
          result: `+${ms(submit.latency!.p50Ms - step.latency!.p50Ms)} ms p50`,
          detail: `reset + submit p50 ${ms(submit.latency!.p50Ms)} ms against reset + plain step p50 ${ms(step.latency!.p50Ms)} ms, ${submits} each`,
        },
      ];
    });
    return { name: 'judging', metrics, checks: [], data: { batches, latency } };
  } finally {
    await env.close();
  }
}
