import { readFile } from 'node:fs/promises';

/**
 * The one memory the kernel's OOM killer cannot attribute: files in a sandbox's tmpfs mounts.
 *
 * Every sandbox process is the kernel's first choice under memory pressure (`oom_score_adj` 1000),
 * and among sandboxes the kernel kills the one with the most resident memory. Files written to a
 * sandbox's private tmpfs (`/tmp`, `/workspace`, `/dev/shm`) count against the appliance's memory
 * but against no process's RSS: measured on the appliance, six episodes filling their tmpfs pushed
 * the container to its limit and the kernel killed a bystander holding 25 MB of ordinary state,
 * then two of the attackers (5.5 MB each). So the server watches the appliance's headroom and,
 * when it runs low, itself kills the episode holding the most in its tmpfs mounts, before the
 * kernel has to choose: killing its pid-1 ends its namespaces, and its tmpfs with them.
 */

/** How often the headroom is read (three small files). @default 25 ms */
export const MEMORY_GUARD_INTERVAL_MS = 25;
/**
 * Headroom under which the guard acts: the larger of this... Files can be written at over 1 GB/s,
 * so the guard must act well before the limit: measured on the 1 GiB appliance with six episodes
 * filling their tmpfs at once, acting at 128 MiB left the kernel to come first, at 256 MiB the
 * peak still reached 1013 MiB. @default 256 MiB
 */
export const MEMORY_GUARD_MIN_HEADROOM_BYTES = 256 * 1024 * 1024;
/** ...and this share of the memory limit... @default 1/3 */
export const MEMORY_GUARD_HEADROOM_SHARE = 1 / 3;
/** ...but never more than this (a machine of 64 GiB with 20 GiB free is not short of memory). @default 1 GiB */
export const MEMORY_GUARD_MAX_HEADROOM_BYTES = 1024 * 1024 * 1024;
/** Kill until what the victims held would bring the headroom this far past the threshold (writers keep writing meanwhile). @default 1.5 */
const OVERSHOOT = 1.5;
/** An episode holding less than this in files is never the guard's victim. @default 16 MiB */
export const MEMORY_GUARD_MIN_VICTIM_BYTES = 16 * 1024 * 1024;

/** The memory the appliance may use and what is left of it. */
export interface MemoryHeadroom {
  limitBytes: number;
  availableBytes: number;
}

/** A sandbox the guard may weigh and kill. */
export interface GuardedSandbox {
  readonly alive: boolean;
  /** Bytes of files in its private tmpfs mounts (0 when it has none, or they cannot be read). */
  writableBytes(): Promise<number>;
  /** Kill it; its episode answers 137 with `state_lost` and this reason. */
  reclaim(reason: string): void;
}

const V1_ROOT = '/sys/fs/cgroup/memory';
const V2_ROOT = '/sys/fs/cgroup';

async function readNumber(path: string): Promise<number | undefined> {
  try {
    const text = (await readFile(path, 'utf8')).trim();
    const value = Number(text);
    return text === 'max' || !Number.isFinite(value) ? undefined : value;
  } catch {
    return undefined;
  }
}

/**
 * The cgroup directories that may hold this process's memory accounting, most specific first: the
 * path /proc/self/cgroup names (v2's `0::`, v1's `memory` line), then the mount's root (what a
 * container sees of its own cgroup).
 */
async function cgroupCandidates(): Promise<{ usage: string; limit: string; stat: string }[]> {
  let lines: string[] = [];
  try {
    lines = (await readFile('/proc/self/cgroup', 'utf8')).split('\n');
  } catch {
    // Not Linux, or no /proc: the machine's memory only.
  }
  const v2 = (dir: string) => ({ usage: `${dir}/memory.current`, limit: `${dir}/memory.max`, stat: `${dir}/memory.stat` });
  const v1 = (dir: string) => ({ usage: `${dir}/memory.usage_in_bytes`, limit: `${dir}/memory.limit_in_bytes`, stat: `${dir}/memory.stat` });
  const candidates: { usage: string; limit: string; stat: string }[] = [];
  for (const line of lines) {
    const [, controllers, path] = line.split(':');
    if (path === undefined) continue;
    if (controllers === '') candidates.push(v2(`${V2_ROOT}${path}`));
    if (controllers?.split(',').includes('memory')) candidates.push(v1(`${V1_ROOT}${path}`));
  }
  candidates.push(v2(V2_ROOT), v1(V1_ROOT));
  return candidates;
}

async function machineMemory(): Promise<{ total: number | undefined; available: number | undefined }> {
  const meminfo = await readFile('/proc/meminfo', 'utf8').catch(() => '');
  const field = (name: string): number | undefined => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(meminfo);
    return match === null ? undefined : Number(match[1]) * 1024;
  };
  return { total: field('MemTotal'), available: field('MemAvailable') };
}

/** Where the headroom is read: a cgroup's usage files under its (fixed) limit, or the machine's. */
type HeadroomSource = { kind: 'cgroup'; limitBytes: number; usage: string; stat: string } | { kind: 'machine' };

let source: Promise<HeadroomSource> | undefined;

/**
 * Which accounting holds this process, found once per process (a cgroup's limit does not change
 * while it runs): the first candidate with a limit below the machine's memory, else the machine.
 */
function headroomSource(): Promise<HeadroomSource> {
  source ??= (async () => {
    const { total } = await machineMemory();
    for (const { usage, limit, stat } of await cgroupCandidates()) {
      const limitBytes = await readNumber(limit);
      if (limitBytes === undefined || (total !== undefined && limitBytes >= total)) continue;
      if ((await readNumber(usage)) !== undefined) return { kind: 'cgroup', limitBytes, usage, stat } as const;
    }
    return { kind: 'machine' } as const;
  })();
  return source;
}

/**
 * The appliance's headroom now: its cgroup's limit less its usage (less the inactive file cache,
 * which the kernel reclaims before it kills: as `docker stats` counts) where a limit below the
 * machine's memory is set, else the machine's available memory (`/proc/meminfo`).
 */
export async function readMemoryHeadroom(): Promise<MemoryHeadroom | undefined> {
  const from = await headroomSource();
  if (from.kind === 'machine') {
    const { total, available } = await machineMemory();
    return total === undefined || available === undefined ? undefined : { limitBytes: total, availableBytes: available };
  }
  const usageBytes = await readNumber(from.usage);
  if (usageBytes === undefined) return undefined;
  const stats = new Map(
    (await readFile(from.stat, 'utf8').catch(() => ''))
      .split('\n')
      .map((line) => line.split(' '))
      .map(([key, value]) => [key, Number(value)] as const),
  );
  // v1 counts the hierarchy in total_inactive_file, v2 in inactive_file.
  const cache = stats.get('total_inactive_file') ?? stats.get('inactive_file') ?? 0;
  return { limitBytes: from.limitBytes, availableBytes: from.limitBytes - Math.max(0, usageBytes - cache) };
}

/** Options of {@link startMemoryGuard}. */
export interface MemoryGuardOptions {
  /** The sandboxes to weigh, read at each check. */
  sandboxes: () => Iterable<GuardedSandbox>;
  /** Where the headroom comes from. @default {@link readMemoryHeadroom} */
  headroom?: () => Promise<MemoryHeadroom | undefined>;
  /** @default {@link MEMORY_GUARD_INTERVAL_MS} */
  intervalMs?: number;
  /** Told of each kill. */
  onKill?: (writableBytes: number) => void;
}

/** A running guard; `stop()` ends it. */
export interface MemoryGuard {
  /** Episodes the guard killed so far. */
  readonly kills: number;
  /** Run one check now (the timer runs them too). */
  check(): Promise<void>;
  stop(): void;
}

const MiB = (bytes: number): string => `${Math.round(bytes / 2 ** 20)} MiB`;

/**
 * Watch the headroom every `intervalMs`; when it is under the larger of
 * {@link MEMORY_GUARD_MIN_HEADROOM_BYTES} and {@link MEMORY_GUARD_HEADROOM_SHARE} of the limit
 * (at most {@link MEMORY_GUARD_MAX_HEADROOM_BYTES}),
 * kill the live sandboxes holding the most in their tmpfs mounts (each at least
 * {@link MEMORY_GUARD_MIN_VICTIM_BYTES}), heaviest first, until what they held would bring the
 * headroom back above it.
 */
export function startMemoryGuard(options: MemoryGuardOptions): MemoryGuard {
  const headroom = options.headroom ?? readMemoryHeadroom;
  let kills = 0;
  let checking: Promise<void> | undefined;
  const check = async (): Promise<void> => {
    const now = await headroom();
    if (now === undefined) return;
    const threshold = Math.max(MEMORY_GUARD_MIN_HEADROOM_BYTES, Math.min(MEMORY_GUARD_MAX_HEADROOM_BYTES, now.limitBytes * MEMORY_GUARD_HEADROOM_SHARE));
    if (now.availableBytes >= threshold) return;
    const weighed: { sandbox: GuardedSandbox; bytes: number }[] = [];
    for (const sandbox of options.sandboxes()) {
      if (!sandbox.alive) continue;
      const bytes = await sandbox.writableBytes();
      if (bytes >= MEMORY_GUARD_MIN_VICTIM_BYTES) weighed.push({ sandbox, bytes });
    }
    // The heaviest first, as many as it takes to be back above the threshold.
    weighed.sort((a, b) => b.bytes - a.bytes);
    let freed = 0;
    for (const victim of weighed) {
      if (now.availableBytes + freed >= threshold * OVERSHOOT) break;
      victim.sandbox.reclaim(
        `the appliance ran low on memory (${MiB(now.availableBytes)} of ${MiB(now.limitBytes)} left) and this episode held the most of it in files (${MiB(victim.bytes)} in /tmp, /workspace and /dev/shm)`,
      );
      freed += victim.bytes;
      kills += 1;
      options.onKill?.(victim.bytes);
    }
  };
  const timer = setInterval(() => {
    // One check at a time: a slow one (many sandboxes to weigh) is not overlapped.
    checking ??= check()
      .catch(() => undefined)
      .finally(() => {
        checking = undefined;
      });
  }, options.intervalMs ?? MEMORY_GUARD_INTERVAL_MS);
  timer.unref();
  return {
    get kills() {
      return kills;
    },
    check,
    stop: () => clearInterval(timer),
  };
}
