import { execFile } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Give up asking git after this long. @default 5 s */
const GIT_TIMEOUT_MS = 5_000;

/** Where the numbers were measured, so results from different machines and commits are not compared blindly. */
export interface MachineFacts {
  node: string;
  platform: string;
  osRelease: string;
  arch: string;
  cpuCount: number;
  cpuModel: string;
  totalMemoryBytes: number;
  /** ISO 8601 time the run started. */
  date: string;
  /** `git rev-parse --short HEAD`, or null outside a git checkout. */
  gitCommit: string | null;
  /** Whether the working tree had uncommitted changes (null when unknown). */
  gitDirty: boolean | null;
  /** Whether this was a `--quick` run (counts and durations ~10x smaller: smoke test, not a measurement). */
  quick: boolean;
}

/** Collect the facts of this machine; `root` is the git checkout to read the commit from. */
export async function collectMachineFacts(root: string, quick: boolean, startedAt: Date): Promise<MachineFacts> {
  const cpus = os.cpus();
  const [commit, status] = await Promise.all([git(root, ['rev-parse', '--short', 'HEAD']), git(root, ['status', '--porcelain'])]);
  return {
    node: process.version,
    platform: os.platform(),
    osRelease: os.release(),
    arch: os.arch(),
    cpuCount: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    totalMemoryBytes: os.totalmem(),
    date: startedAt.toISOString(),
    gitCommit: commit === null ? null : commit.trim(),
    gitDirty: status === null ? null : status.trim() !== '',
    quick,
  };
}

/** Output of a git command, or null when git is missing or the directory is not a checkout. */
async function git(cwd: string, args: readonly string[]): Promise<string | null> {
  try {
    const { stdout } = await execFileAsync('git', [...args], { cwd, timeout: GIT_TIMEOUT_MS, encoding: 'utf8' });
    return stdout;
  } catch {
    return null;
  }
}
