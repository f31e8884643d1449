import type { StepResponse } from '../runtime/index.js';

/** Options of one call over a {@link Transport}. */
export interface CallOptions {
  /** Give up after this many milliseconds (the server may still finish the call). */
  timeoutMs: number;
  /** Abort the wait (the server may still finish the call). */
  signal?: AbortSignal;
}

/** How an {@link EnvClient} reaches its session: HTTP keep-alive or one WebSocket. */
export interface Transport {
  /** `POST /reset` with `body`. */
  reset(body: Record<string, unknown>, options: CallOptions): Promise<StepResponse>;
  /** `POST /step` with `action` and the step's `timeout_s`. */
  step(action: unknown, timeoutS: number | undefined, options: CallOptions): Promise<StepResponse>;
  /** `GET /state`. */
  state(options: CallOptions): Promise<unknown>;
  /** Close the session this transport opened (if any) and free its connections. Idempotent. */
  close(): Promise<void>;
}

/** Combine a caller's signal with a timeout, per HOUSE_STYLE rule 9. */
export function callSignal(options: CallOptions): AbortSignal {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  return options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout]);
}
