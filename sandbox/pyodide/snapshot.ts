import { spawn } from 'node:child_process';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { sandboxCommand } from '../process/command.js';
import type { ProcessSandboxOptions } from '../process/process-sandbox.js';

/** How long building the snapshot may take (a plain Pyodide boot is ~2.5 s here). @default 120 s */
export const SNAPSHOT_TIMEOUT_MS = 120_000;

/** What building the memory snapshot gave. */
export interface SnapshotOutcome {
  /** The snapshot, or undefined when it could not be made (sandboxes then boot Pyodide afresh). */
  bytes: Buffer | undefined;
  /** How long it took, in milliseconds. */
  buildMs: number;
  /** Why there is none, when there is none. */
  reason: string | undefined;
}

type SnapshotOptions = Pick<ProcessSandboxOptions, 'guest' | 'isolation' | 'procMount' | 'tmpBytes' | 'uids'>;

/** One snapshot per process and isolation: every backend of a server (and of a test file) shares it. */
const built = new Map<string, Promise<SnapshotOutcome>>();

/**
 * Boot Pyodide once in a guest (the same command line and walls as the sandboxes, so its paths match
 * theirs) and take its memory snapshot (Pyodide's private `makeMemorySnapshot`, tied to its version).
 * Never throws: a failure gives `bytes: undefined` and the reason.
 */
export function buildSnapshot(options: SnapshotOptions): Promise<SnapshotOutcome> {
  const key = `${options.isolation}:${options.procMount}`;
  let outcome = built.get(key);
  if (outcome === undefined) {
    outcome = build(options);
    built.set(key, outcome);
  }
  return outcome;
}

async function build(options: SnapshotOptions): Promise<SnapshotOutcome> {
  const started = performance.now();
  const uid = options.uids?.acquire();
  const scratchDir = await mkdtemp(join(tmpdir(), 'envbox-snapshot-'));
  try {
    if (uid !== undefined) await chown(scratchDir, uid, uid);
    const [program, ...args] = sandboxCommand({ ...options, scratchDir, uid, reportPid: false });
    const child = spawn(program!, args, { cwd: scratchDir, env: {}, stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'], detached: true });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-2000);
    });
    const chunks: Buffer[] = [];
    (child.stdio[4] as Readable).on('data', (chunk: Buffer) => chunks.push(chunk));
    let timer: NodeJS.Timeout | undefined;
    const exit = await new Promise<string | undefined>((resolve) => {
      timer = setTimeout(() => {
        kill(child.pid);
        resolve(`no snapshot after ${SNAPSHOT_TIMEOUT_MS} ms`);
      }, SNAPSHOT_TIMEOUT_MS);
      child.once('error', (error) => resolve(error.message));
      child.once('close', (code, signal) => resolve(code === 0 ? undefined : `the guest exited with ${signal ?? `code ${code}`}`));
    });
    clearTimeout(timer);
    const data = Buffer.concat(chunks);
    const size = data.length >= 4 ? data.readUInt32BE(0) : -1;
    if (exit !== undefined || size !== data.length - 4 || size === 0) {
      const why = exit ?? `the guest sent ${data.length} bytes, not one whole frame`;
      return { bytes: undefined, buildMs: performance.now() - started, reason: `${why}${stderr.trim() === '' ? '' : ` (${stderr.trim().slice(-600)})`}` };
    }
    return { bytes: data.subarray(4), buildMs: performance.now() - started, reason: undefined };
  } catch (error) {
    return { bytes: undefined, buildMs: performance.now() - started, reason: (error as Error).message };
  } finally {
    await rm(scratchDir, { recursive: true, force: true });
    if (uid !== undefined) options.uids?.release(uid);
  }
}

/** Kill the guest's process group (setpriv, bubblewrap and Node). */
function kill(pid: number | undefined): void {
  try {
    if (pid !== undefined) process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}
