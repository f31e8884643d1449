import { randomUUID } from 'node:crypto';
import type { Environment, ResetOptions } from '../../protocol/index.js';
import type { EchoAction, EchoObservation, EchoState } from './models.js';

/** What reset observes. */
export const ECHO_READY_MESSAGE = 'Echo environment ready!';
/** Reward per character of the echoed message. @default 0.1 */
export const ECHO_REWARD_PER_CHAR = 0.1;

/**
 * The smallest environment: each step echoes its message back, with reward
 * `0.1 * length` (length in Unicode code points, as Python's `len`), for testing the plumbing.
 */
export class EchoEnvironment implements Environment<EchoAction, EchoObservation, EchoState> {
  #episodeId: string = randomUUID();
  #stepCount = 0;

  reset(options: ResetOptions): EchoObservation {
    this.#episodeId = options.episode_id ?? randomUUID();
    this.#stepCount = 0;
    return { echoed_message: ECHO_READY_MESSAGE, message_length: 0, done: false, reward: 0, metadata: {} };
  }

  step(action: EchoAction): EchoObservation {
    this.#stepCount += 1;
    const length = codePoints(action.message);
    return {
      echoed_message: action.message,
      message_length: length,
      done: false,
      reward: length * ECHO_REWARD_PER_CHAR,
      metadata: { original_message: action.message, step: this.#stepCount },
    };
  }

  state(): EchoState {
    return { episode_id: this.#episodeId, step_count: this.#stepCount };
  }

  close(): void {}
}

function codePoints(text: string): number {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}
