import { EXIT_KILLED } from '../sandbox.js';
import type { StepReport } from './protocol.js';

/**
 * The report of a step whose episode is gone (its worker was terminated, or its context closed):
 * 137, state lost. Used by the server's side and by the worker itself; imports nothing heavy.
 */
export function lostReport(reason: string): StepReport {
  return {
    stdout: '',
    stderr: `envbox: the sandbox was destroyed: ${reason}; its state is lost and the next step starts in a fresh sandbox.\n`,
    exitCode: EXIT_KILLED,
    result: null,
    truncated: false,
    stateLost: true,
  };
}
