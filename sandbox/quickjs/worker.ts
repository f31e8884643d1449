import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import type { EpisodeImage } from './episode-image.js';
import { GuestContext, MemoryBudgetRefusal } from './guest-context.js';
import { lostReport } from './lost-report.js';
import { WorkerMemoryAccount } from './memory-budget.js';
import type { HostMessage, WorkerConfig, WorkerMessage } from './protocol.js';

/**
 * A worker thread hosting several JavaScript episodes, each in its own QuickJS instance. It runs
 * what the server asks, one synchronous slice at a time; while an episode waits for one of its
 * timers, the others run. `busy[0]` holds the episode whose guest code holds the thread right now
 * (0 when none), so the server can tell a stalled episode from a waiting one without a message.
 */
interface WorkerData extends WorkerConfig {
  busy: Int32Array;
  /** This worker's cell in `budgetCells`. */
  budgetCell: number;
}

const config = workerData as WorkerData;
const account = new WorkerMemoryAccount(config.budgetCells, config.budgetCell, fullCollection());
const port = parentPort!;
const episodes = new Map<number, Promise<GuestContext | undefined>>();
/** The image this worker's episodes start from; undefined when it could not be made (episodes are then set up from scratch). */
let image: EpisodeImage | undefined;

/**
 * V8's `gc()`, for freeing dropped episodes' wasm memories promptly (see COLLECT_AFTER_RELEASE_BYTES):
 * a Worker cannot be given `--expose-gc`, but a context made after the flag is set has `gc`. Only
 * this worker's code holds it; guest code runs in QuickJS and reaches no host function.
 */
function fullCollection(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? () => (gc as () => void)() : undefined;
  } catch {
    return undefined;
  }
}

function send(message: WorkerMessage): void {
  port.postMessage(message);
}

/**
 * A new episode, from the image while there is one. A restore that fails for another reason than
 * the budget means the image does not fit this build: it is dropped (the server is told) and this
 * episode and the next are set up from scratch.
 */
async function createGuest(): Promise<GuestContext> {
  if (image === undefined) return GuestContext.create(config, account);
  try {
    return await GuestContext.create(config, account, image);
  } catch (error) {
    if (error instanceof MemoryBudgetRefusal) throw error;
    image = undefined;
    send({ type: 'image-failed', failure: `restoring an episode failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}` });
    return GuestContext.create(config, account);
  }
}

async function handle(message: HostMessage): Promise<void> {
  switch (message.type) {
    case 'open': {
      const opening = createGuest().then(
        (guest) => guest,
        (error: unknown) => {
          const budget = error instanceof MemoryBudgetRefusal;
          send({ type: 'open-failed', request: message.request, message: error instanceof Error ? error.message : String(error), budget });
          return undefined;
        },
      );
      episodes.set(message.episode, opening);
      const guest = await opening;
      if (guest === undefined) {
        episodes.delete(message.episode);
        return;
      }
      // Closed while it was opening.
      if (!episodes.has(message.episode)) {
        guest.dispose();
        return;
      }
      send({ type: 'opened', request: message.request });
      return;
    }
    case 'run': {
      const guest = await episodes.get(message.episode);
      if (guest === undefined) {
        send({ type: 'ran', request: message.request, report: lostReport('its context is gone') });
        return;
      }
      const report = await guest.run(message.code, message.timeoutMs, (busy) => {
        Atomics.store(config.busy, 0, busy ? message.episode : 0);
      });
      if (!guest.alive) episodes.delete(message.episode);
      send({ type: 'ran', request: message.request, report });
      return;
    }
    case 'close': {
      const opening = episodes.get(message.episode);
      episodes.delete(message.episode);
      (await opening)?.dispose();
      return;
    }
  }
}

// Messages that arrive while the image is being made wait for it (the port queues them).
let imageFailure: string | undefined;
try {
  image = await GuestContext.makeImage(config);
} catch (error) {
  imageFailure = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
port.on('message', (message: HostMessage) => {
  void handle(message);
});
// Loaded: from here on, how long an episode takes to open is the worker's own doing.
send({ type: 'ready', image: image === undefined ? { failure: imageFailure ?? 'unknown' } : { byteLength: image.byteLength, reseeds: image.reseeds } });
