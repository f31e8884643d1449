import { progressBarLine, type ProgressOutput } from '../progress-bar.js';

/** What `EnvPool.create` reports while its appliances start. */
export interface StartProgress {
  /** One more appliance is healthy. */
  started(): void;
  /** One failed to start. */
  failed(): void;
  /** All have settled: the bar's line is ended. */
  finish(): void;
}

/**
 * The progress of starting `total` appliances on `out`: on a TTY a bar redrawn in place
 * (`[##########..............]  40% EnvPool: 2/5 appliances started, 6.1 s`), otherwise a line
 * per appliance, fit for logs; nothing without `out`.
 */
export function createStartProgress(out: ProgressOutput | undefined, total: number): StartProgress {
  const begun = performance.now();
  let started = 0;
  let failed = 0;
  const elapsed = (): string => `${((performance.now() - begun) / 1000).toFixed(1)} s`;
  const tty = out?.isTTY === true;
  const draw = (): void => {
    const failures = failed === 0 ? '' : `, ${failed} failed`;
    out?.write(progressBarLine((started + failed) / total, `EnvPool: ${started}/${total} appliances started${failures}, ${elapsed()}`, out.columns));
  };
  if (tty) draw();
  return {
    started() {
      started += 1;
      if (tty) draw();
      else out?.write(`EnvPool: appliance ${started}/${total} started (${elapsed()})\n`);
    },
    failed() {
      failed += 1;
      if (tty) draw();
      else out?.write(`EnvPool: an appliance failed to start (${failed} of ${total}, ${elapsed()})\n`);
    },
    finish() {
      if (tty) out?.write('\n');
    },
  };
}
