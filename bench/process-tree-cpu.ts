import { readFile } from 'node:fs/promises';
import { BenchError } from './bench-error.js';
import { readParentPids } from './process-tree-memory.js';

/**
 * Linux's `USER_HZ`: the unit of the CPU times in `/proc/<pid>/stat`. It is part of the kernel's
 * user-space ABI and 100 on every architecture (`sysconf(_SC_CLK_TCK)`), whatever the kernel's own HZ.
 */
export const USER_HZ = 100;

/** CPU time of one process tree, as {@link processTreeCpuTicks} read it. */
export interface ProcessTreeCpu {
  /** The root and every descendant alive when /proc was read, root first. */
  pids: number[];
  /** Their summed CPU time in clock ticks of 1/{@link USER_HZ} s, reaped children included (see {@link parseCpuTicks}). */
  ticks: number;
  /** The root's share of `ticks` (its threads and its reaped children). */
  rootTicks: number;
}

/**
 * The CPU time a `/proc/<pid>/stat` line accounts for, in clock ticks: `utime + stime` (all the
 * process's threads) plus `cutime + cstime` (its children that exited and were waited for). With
 * the children's share, a descendant that exits between two readings of a tree is still counted:
 * its time moves into its parent's `cutime` when it is reaped.
 * @throws {BenchError} when the line does not have the fields of `proc(5)`'s stat
 */
export function parseCpuTicks(stat: string): number {
  // `pid (comm) state ppid ...`: comm may hold spaces and parentheses, so split after the last `)`.
  const close = stat.lastIndexOf(')');
  const fields = close === -1 ? [] : stat.slice(close + 2).trim().split(' ');
  // After comm, field 3 (state) is index 0, so utime (14), stime, cutime, cstime (17) are 11 to 14.
  const times = fields.slice(11, 15).map(Number);
  if (times.length !== 4 || !times.every((value) => Number.isInteger(value) && value >= 0)) {
    throw new BenchError(`Expected a /proc/<pid>/stat line with utime, stime, cutime and cstime (fields 14-17), received ${JSON.stringify(stat.slice(0, 200))}.`);
  }
  return times.reduce((sum, value) => sum + value, 0);
}

/** `rootPid` and all its descendants in `parents` (child -> parent), root first, breadth first. */
export function treePids(rootPid: number, parents: ReadonlyMap<number, number>): number[] {
  const pids = [rootPid];
  for (let i = 0; i < pids.length; i += 1) {
    for (const [child, parent] of parents) if (parent === pids[i] && child !== rootPid) pids.push(child);
  }
  return pids;
}

/** Busy cores that `ticks` clock ticks of CPU time over `elapsedMs` of wall time make (0.5: half a core). */
export function coresBusy(ticks: number, elapsedMs: number): number {
  if (!(elapsedMs > 0)) throw new RangeError(`coresBusy: expected a positive elapsed time in ms, received ${elapsedMs}.`);
  return ticks / USER_HZ / (elapsedMs / 1000);
}

/**
 * The CPU time of `rootPid` and every descendant of it now (e.g. the server, its sandboxes'
 * bwrap, setpriv and python3 processes), from `/proc/<pid>/stat`. A process that exits during the
 * reading is left out (its time reaches its parent's `cutime` once reaped).
 * @throws {BenchError} when `rootPid` is gone
 */
export async function processTreeCpuTicks(rootPid: number): Promise<ProcessTreeCpu> {
  const parents = await readParentPids();
  if (!parents.has(rootPid)) throw new BenchError(`Process ${rootPid} is gone; its CPU time cannot be measured.`);
  const pids: number[] = [];
  let ticks = 0;
  let rootTicks = 0;
  for (const pid of treePids(rootPid, parents)) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch((error: unknown) => {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ESRCH') return undefined;
      throw error;
    });
    if (stat === undefined) continue;
    const own = parseCpuTicks(stat);
    ticks += own;
    if (pid === rootPid) rootTicks = own;
    pids.push(pid);
  }
  return { pids, ticks, rootTicks };
}
