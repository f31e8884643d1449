/**
 * A random-policy rollout of blackjack over WebSocket: `--episodes` hands (default 1,000) played by
 * `--clients` concurrent typed clients (default 8), each move drawn uniformly from the legal ones;
 * prints the mean return, the win, push and loss rates and the episodes per second, one line each.
 * Against `--url <server>`, else a server started in this process with envbox's `startServer`.
 *
 *   npm run rollout -- --episodes 1000 [--url http://127.0.0.1:8000] [--clients 8] [--seed 1]
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createLogger, startServer, type EnvboxServer } from 'envbox';
import { BlackjackEnv } from '../src/client.js';
import environment, { BlackjackOptions, seededRandom, type Move, type Outcome, type Random } from '../src/index.js';

/** Episodes played unless `--episodes` says otherwise. */
export const DEFAULT_EPISODES = 1_000;
/** WebSocket clients playing at once unless `--clients` says otherwise. */
export const DEFAULT_CLIENTS = 8;

/** The command line, parsed once here. */
const RolloutArgs = z.object({
  episodes: z.coerce.number().int().min(1).max(10_000_000).default(DEFAULT_EPISODES),
  clients: z.coerce.number().int().min(1).max(64).default(DEFAULT_CLIENTS),
  url: z.url({ protocol: /^https?$/ }).optional(),
  seed: z.coerce.number().int().nonnegative().optional(),
  decks: BlackjackOptions.shape.decks,
});
type RolloutArgs = z.infer<typeof RolloutArgs>;

/** What one hand came to. */
interface EpisodeResult {
  return: number;
  outcome: Outcome;
}

/** Play episode `index` on `env` with moves drawn uniformly from the legal ones. */
async function playEpisode(env: BlackjackEnv, index: number, args: RolloutArgs): Promise<EpisodeResult> {
  // A seeded rollout seeds each episode's shoe and policy by its index, so the schedule of the clients changes nothing.
  const random: Random = args.seed === undefined ? Math.random : seededRandom((args.seed + index) ^ 0x5bd1e995);
  let result = await env.reset(args.seed === undefined ? {} : { seed: args.seed + index });
  let total = 0;
  while (!result.done) {
    const legal = result.observation.legal_actions;
    const move: Move = legal[Math.floor(random() * legal.length)]!;
    result = await env.step({ action: move });
    total += result.reward ?? 0;
  }
  const { outcome } = result.observation;
  if (outcome === null) throw new Error(`episode ${index} ended without an outcome: ${result.observation.message}`);
  return { return: total, outcome };
}

/** Run the rollout against `baseUrl`: `args.clients` clients take episodes from one counter until all are played. */
async function rollout(baseUrl: string, args: RolloutArgs): Promise<{ results: EpisodeResult[]; seconds: number }> {
  const results: EpisodeResult[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(args.clients, args.episodes) }, async () => {
      await using env = new BlackjackEnv({ baseUrl, transport: 'ws' });
      for (let index = next++; index < args.episodes; index = next++) results.push(await playEpisode(env, index, args));
    }),
  );
  return { results, seconds: (performance.now() - started) / 1000 };
}

/** The summary lines: one fact each, `name: value`. */
function summary(results: readonly EpisodeResult[], seconds: number): string[] {
  const n = results.length;
  const mean = results.reduce((sum, result) => sum + result.return, 0) / n;
  const variance = results.reduce((sum, result) => sum + (result.return - mean) ** 2, 0) / Math.max(1, n - 1);
  const rate = (outcome: Outcome): string => `${((100 * results.filter((result) => result.outcome === outcome).length) / n).toFixed(1)}%`;
  return [
    `mean return: ${mean.toFixed(3)} (standard error ${Math.sqrt(variance / n).toFixed(3)})`,
    `win rate: ${rate('win')}`,
    `push rate: ${rate('push')}`,
    `loss rate: ${rate('loss')}`,
    `episodes/s: ${(n / seconds).toFixed(0)} (${n} episodes in ${seconds.toFixed(2)} s)`,
  ];
}

async function main(argv: string[]): Promise<number> {
  let args: RolloutArgs;
  try {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      options: { episodes: { type: 'string' }, clients: { type: 'string' }, url: { type: 'string' }, seed: { type: 'string' }, decks: { type: 'string' } },
    });
    args = RolloutArgs.parse(values);
  } catch (error) {
    const message = error instanceof z.ZodError ? z.prettifyError(error) : (error as Error).message;
    process.stderr.write(`rollout: ${message}\nUsage: rollout [--episodes N] [--url <server>] [--clients N] [--seed N] [--decks N (in-process server only)]\n`);
    return 2;
  }
  let server: EnvboxServer | undefined;
  try {
    if (args.url === undefined) {
      const definition = await environment.create({ decks: args.decks }, { logger: createLogger('error') });
      server = await startServer(definition, { logLevel: 'error' });
    }
    const baseUrl = args.url ?? server!.url;
    process.stdout.write(
      `blackjack rollout: ${args.episodes} episodes, random policy, ${Math.min(args.clients, args.episodes)} WebSocket clients, ${baseUrl}${server === undefined ? '' : ` (in-process server, ${args.decks} deck${args.decks === 1 ? '' : 's'})`}${args.seed === undefined ? '' : `, seeds ${args.seed}...`}\n`,
    );
    const { results, seconds } = await rollout(baseUrl, args);
    process.stdout.write(`${summary(results, seconds).join('\n')}\n`);
    return 0;
  } finally {
    await server?.close();
  }
}

process.exitCode = await main(process.argv.slice(2));
