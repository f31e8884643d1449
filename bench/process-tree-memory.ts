import { readdir, readFile } from 'node:fs/promises';
import { BenchError } from './bench-error.js';

/** Bytes in the `kB` unit of `/proc/<pid>/smaps_rollup`. */
const BYTES_PER_KB = 1024;

/** Memory of one process tree, as {@link processTreeMemory} measured it. */
export interface ProcessTreeMemory {
  /** The root and every descendant alive when /proc was read, root first. */
  pids: number[];
  /** Their command names (`/proc/<pid>/comm`), in the same order, e.g. `['setpriv', 'bwrap', 'bwrap', 'node']`. */
  commands: string[];
  /** Sum of their proportional set sizes (shared pages divided among the processes sharing them), in bytes. */
  pssBytes: number;
}

/**
 * Parent of every process visible in /proc, from one pass over `/proc/<pid>/stat`. A process that
 * exits during the pass is left out.
 */
export async function readParentPids(): Promise<Map<number, number>> {
  const entries = await readdir('/proc');
  const parents = new Map<number, number>();
  await Promise.all(
    entries
      .filter((name) => /^\d+$/.test(name))
      .map(async (name) => {
        const stat = await readIfPresent(`/proc/${name}/stat`);
        // `pid (comm) state ppid ...`: comm may hold spaces and parentheses, so parse after the last `)`.
        const ppid = stat === undefined ? undefined : Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid !== undefined && Number.isInteger(ppid)) parents.set(Number(name), ppid);
      }),
  );
  return parents;
}

/** The direct children of `pid` now (e.g. to tell, before and after, which process a call started). */
export async function childPids(pid: number): Promise<Set<number>> {
  const children = new Set<number>();
  for (const [child, parent] of await readParentPids()) if (parent === pid) children.add(child);
  return children;
}

/**
 * The summed PSS of `rootPid` and all its descendants (e.g. a sandbox's setpriv, bwrap and Node).
 * @throws {BenchError} when `rootPid` is gone, or a live process's `/proc/<pid>/smaps_rollup`
 *   cannot be read (Linux < 4.14, or another user's process without root)
 */
export async function processTreeMemory(rootPid: number): Promise<ProcessTreeMemory> {
  const parents = await readParentPids();
  if (!parents.has(rootPid)) throw new BenchError(`Process ${rootPid} is gone; its memory cannot be measured.`);
  const pids = [rootPid];
  for (let i = 0; i < pids.length; i += 1) {
    for (const [child, parent] of parents) if (parent === pids[i]) pids.push(child);
  }
  let pssBytes = 0;
  const measured: number[] = [];
  const commands: string[] = [];
  for (const pid of pids) {
    let rollup: string | undefined;
    try {
      rollup = await readIfPresent(`/proc/${pid}/smaps_rollup`);
    } catch (error) {
      throw new BenchError(
        `Cannot read /proc/${pid}/smaps_rollup (${error instanceof Error ? error.message : String(error)}); measuring a sandbox's memory needs Linux 4.14+ and root, or the sandboxes' uid.`,
        { cause: error },
      );
    }
    if (rollup === undefined) continue;
    const match = /^Pss:\s+(\d+) kB$/m.exec(rollup);
    if (match === null) throw new BenchError(`/proc/${pid}/smaps_rollup has no "Pss: <n> kB" line (received ${JSON.stringify(rollup.slice(0, 200))}).`);
    pssBytes += Number(match[1]) * BYTES_PER_KB;
    measured.push(pid);
    commands.push((await readIfPresent(`/proc/${pid}/comm`))?.trim() ?? '?');
  }
  return { pids: measured, commands, pssBytes };
}

/** The file's text, or undefined when its process has exited (ENOENT, ESRCH). */
async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return undefined;
    throw error;
  }
}
