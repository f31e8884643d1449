import { hostname } from 'node:os';

/** The value of `OWNER_LABEL` for containers this process starts: `<hostname>:<pid>`. */
export function ownerLabelValue(): string {
  return `${hostname()}:${process.pid}`;
}

/**
 * Whether the owner an `OWNER_LABEL` value names is gone: a process on this host that no longer
 * exists, or a value that is not `<hostname>:<pid>`. An owner on another host counts as alive: it
 * cannot be checked from here.
 */
export function ownerGone(owner: string): boolean {
  const match = /^(.*):(\d+)$/.exec(owner);
  if (match === null) return true;
  if (match[1] !== hostname()) return false;
  try {
    process.kill(Number(match[2]), 0);
    return false;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code !== 'EPERM';
  }
}
