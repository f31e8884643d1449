import { readdirSync, readFileSync } from 'node:fs';

/**
 * The longest an interrupted step may run on before its sandbox is killed, in wall time, however
 * starved of CPU its guest is: the bound on how long code that ignores its interrupt lives when its
 * grace (which counts only the guest's own time) hardly advances. @default 30 000 ms
 */
export const INTERRUPT_GRACE_CEILING_MS = 30_000;

/**
 * How often the interrupt is sent again while its grace runs, in wall time: a SIGINT that reaches
 * the guest before it has begun the step (a loaded machine delays its reading of the step past the
 * deadline) is dropped there as a late one of the step before, and the next one interrupts the
 * step that now runs. @default 100 ms
 */
export const INTERRUPT_REPEAT_MS = 100;

/** Clock ticks per second in `/proc/<pid>/stat` (USER_HZ: 100 on every Linux architecture Node runs on). */
const USER_HZ = 100;

/** What a guest was doing at one instant, as the kernel tells it. */
export interface GuestSample {
  /** When (`performance.now()`), in ms. */
  atMs: number;
  /** CPU each thread of the guest's process used since it started, by thread id, in ms. */
  threadCpuMs: ReadonlyMap<string, number>;
  /** Whether any thread of it was runnable (running, or waiting for a CPU). */
  runnable: boolean;
}

/**
 * Sample process `pid` from /proc: the CPU time of each of its threads (utime + stime of
 * `/proc/<pid>/task/<tid>/stat`, to the clock tick) and whether any of them is in state R.
 * @returns undefined once the process is gone, or where /proc does not show it
 */
export function sampleGuest(pid: number, atMs: number = performance.now()): GuestSample | undefined {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  const threadCpuMs = new Map<string, number>();
  let runnable = false;
  for (const task of tasks) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8');
    } catch {
      continue; // a thread that ended meanwhile
    }
    // Fields after the command name (which may hold spaces and parentheses): the state is the 1st,
    // utime and stime the 12th and 13th (proc(5)).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuMs = ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
    if (Number.isFinite(cpuMs)) threadCpuMs.set(task, cpuMs);
    if (fields[0] === 'R') runnable = true;
  }
  return threadCpuMs.size === 0 ? undefined : { atMs, threadCpuMs, runnable };
}

/**
 * The guest's own time between two samples: the CPU all of its threads used (a thread started
 * meanwhile counts from 0), or the whole interval when it was blocked (no thread runnable) at both
 * ends. Time spent runnable but waiting for a CPU is no own time: a guest that heeds its interrupt
 * but is not scheduled on a loaded machine does not spend its grace, while one that spins (its
 * threads use CPU) or sleeps (it is blocked) past the interrupt does. The sum over its threads, so
 * that hostile code cannot stretch its grace by spreading its spinning over many threads (each
 * getting a sliver of the CPUs); a runtime's own threads (compilers, garbage collector) count too,
 * which errs towards the kill.
 */
export function ownTimeMs(previous: GuestSample, next: GuestSample): number {
  let cpuMs = 0;
  for (const [task, ms] of next.threadCpuMs) cpuMs += Math.max(0, ms - (previous.threadCpuMs.get(task) ?? 0));
  return !previous.runnable && !next.runnable ? Math.max(next.atMs - previous.atMs, cpuMs) : cpuMs;
}

/** What {@link startInterruptGrace} needs. */
export interface InterruptGraceOptions {
  /** The host pid of the guest that was interrupted. */
  pid: number;
  /** The guest's own time (see {@link ownTimeMs}) it has to stop in, in ms. */
  graceMs: number;
  /** The wall-time bound, in ms (never below `graceMs`). @default INTERRUPT_GRACE_CEILING_MS */
  ceilingMs?: number;
  /** Called at most once, when the grace is spent: the guest ignored its interrupt. */
  onExpired: (expiry: { elapsedMs: number; ownMs: number }) => void;
  /** Called every `repeatMs` while the grace runs: send the interrupt again. */
  onRepeat?: () => void;
  /** How often `onRepeat` is called, in ms. @default INTERRUPT_REPEAT_MS */
  repeatMs?: number;
  /** Aborted once the step has answered: the grace ends with its timers. */
  signal: AbortSignal;
  /** How the guest is sampled (tests). @default sampleGuest */
  sample?: (pid: number, atMs: number) => GuestSample | undefined;
}

/**
 * Start the kill grace of a guest that was just interrupted: `onExpired` is called once the guest
 * has had `graceMs` of its own time (see {@link ownTimeMs}) since the interrupt without the step
 * answering, or `ceilingMs` of wall time; a guest /proc does not show gets wall time. One timer at
 * a time, re-armed every `repeatMs` (calling `onRepeat`: the interrupt is sent again) or for the
 * grace left, whichever is sooner.
 */
export function startInterruptGrace(options: InterruptGraceOptions): void {
  const { pid, graceMs, onExpired, onRepeat, signal } = options;
  const repeatMs = Math.max(1, options.repeatMs ?? INTERRUPT_REPEAT_MS);
  const sample = options.sample ?? sampleGuest;
  const ceilingMs = Math.max(graceMs, options.ceilingMs ?? INTERRUPT_GRACE_CEILING_MS);
  if (signal.aborted) return;
  const startedMs = performance.now();
  let previous = sample(pid, startedMs);
  let ownMs = 0;
  let timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  const stop = (): void => {
    clearTimeout(timer as NodeJS.Timeout);
    clearImmediate(timer as NodeJS.Immediate);
  };
  const check = (): void => {
    const now = performance.now();
    const next = sample(pid, now);
    ownMs += previous === undefined || next === undefined ? now - (previous?.atMs ?? startedMs) : ownTimeMs(previous, next);
    previous = next;
    const elapsedMs = now - startedMs;
    if (ownMs < graceMs && elapsedMs < ceilingMs) {
      onRepeat?.();
      timer = setTimeout(check, Math.min(repeatMs, graceMs - ownMs, ceilingMs - elapsedMs));
      return;
    }
    // Once more round the event loop first: a reply already in the pipe (the server, not the
    // guest, was slow) is read in its I/O phase and ends the grace before this kills.
    timer = setImmediate(() => {
      signal.removeEventListener('abort', stop);
      if (!signal.aborted) onExpired({ elapsedMs, ownMs });
    });
  };
  signal.addEventListener('abort', stop, { once: true });
  timer = setTimeout(check, Math.min(repeatMs, graceMs));
}
