import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { EnvboxError, type EnvboxErrorOptions } from '../../protocol/index.js';
import type { Isolation } from '../sandbox.js';
import { sandboxCommand, type GuestProgram } from './command.js';

const run = promisify(execFile);

/**
 * 503 `ISOLATION_UNAVAILABLE`: `requireIsolation` was asked for and the host cannot give sandboxes
 * their own namespaces, so the backend refuses to start.
 */
export class IsolationUnavailableError extends EnvboxError {
  constructor(message: string, options?: EnvboxErrorOptions) {
    super('ISOLATION_UNAVAILABLE', 503, message, options);
  }
}

/** What the host allows, found by trying it once at start. */
export interface IsolationProbe {
  isolation: Isolation;
  /** Whether a fresh /proc can be mounted in the namespaces (not inside Docker). */
  procMount: boolean;
  /** Why namespaces are unavailable, when they are. */
  reason: string | undefined;
}

/**
 * Find out whether sandboxes can get their own namespaces: run a trivial guest (e.g. `python -c pass`)
 * with exactly the sandboxes' command line (bubblewrap, under the same uid drop), with and then
 * without a fresh /proc.
 * @param uid the uid sandboxes run as, when the server runs as root
 * @param requireNamespaces throw instead of reporting `process` isolation
 * @throws {IsolationUnavailableError} when `requireNamespaces` and there are no namespaces
 */
export async function probeIsolation(guest: GuestProgram, uid: number | undefined, requireNamespaces = false): Promise<IsolationProbe> {
  let reason = '';
  for (const procMount of [true, false]) {
    const [program, ...args] = sandboxCommand({
      guest,
      isolation: 'namespaces',
      procMount,
      scratchDir: tmpdir(),
      tmpBytes: 1024 * 1024,
      uid,
      reportPid: false,
    });
    try {
      await run(program!, args, { env: {}, timeout: 10_000 });
      return { isolation: 'namespaces', procMount, reason: undefined };
    } catch (error) {
      const failure = error as { stderr?: string; message: string };
      reason = (failure.stderr ?? '').trim() || failure.message;
    }
  }
  reason = `bubblewrap cannot create namespaces here: ${reason}`;
  if (requireNamespaces) throw new IsolationUnavailableError(`--require-isolation: ${reason}; install bubblewrap and allow user namespaces.`);
  return { isolation: 'process', procMount: false, reason };
}
