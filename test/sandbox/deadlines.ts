import type { Sandbox } from '../../sandbox/index.js';

/** A budget no ordinary step comes near: steps are never raced against it. */
export const STEP_MS = 30_000;
/** The deadline of the steps that are meant to time out. */
export const SHORT_MS = 300;
/**
 * The interrupt grace of the backends whose steps must end in a timeout (124), not a kill: no
 * working guest takes that long to heed the interrupt, however slow the machine (under load a
 * Pyodide busy loop once missed the default 1 s grace and was killed, 137). The grace itself is
 * tested by the steps that ignore the interrupt, whose outcome does not depend on speed.
 */
export const INTERRUPT_ONLY_GRACE_MS = STEP_MS;
/** How many times longer than a trivial step's round trip a short deadline is, at least (see {@link shortDeadlineMs}). */
const DEADLINE_OVER_ROUND_TRIP = 20;

/**
 * A deadline for steps that must do something quick (a print, an assignment) before it and then be
 * interrupted: SHORT_MS, or more when this sandbox's slowest of three trivial steps is slow (a loaded
 * machine), so that the quick part always comes first. Rounded to 0.1 s.
 * @param nothing a step that does nothing, in the sandbox's language (`pass`)
 */
export async function shortDeadlineMs(sandbox: Sandbox, nothing: string): Promise<number> {
  let slowestMs = 0;
  for (let i = 0; i < 3; i += 1) slowestMs = Math.max(slowestMs, (await sandbox.run(nothing, { timeoutMs: STEP_MS })).durationMs);
  return Math.ceil(Math.max(SHORT_MS, DEADLINE_OVER_ROUND_TRIP * slowestMs) / 100) * 100;
}
