import type { Isolation } from '../sandbox.js';

/** The episode's working directory inside the namespaces. */
export const WORKDIR_IN_SANDBOX = '/workspace';
/** How long a sandbox (or the template it forks from) may take to start and report ready. @default 15 s */
export const SANDBOX_START_TIMEOUT_MS = 15_000;
/** Where the step runner is in a Python sandbox, started cold or forked: the host's layout stays hidden. */
export const RUNNER_IN_SANDBOX = '/envbox/runner.py';
/** Child fd on which bubblewrap reports the sandboxed process's host pid. */
export const INFO_FD = 5;

/** The kernel's OOM score adjustment of every sandbox process: the first to be killed. */
export const SANDBOX_OOM_SCORE_ADJ = 1000;

/** Child fd of the first file handed to bubblewrap as data (see {@link ReadOnlyMount.copy}). */
export const FIRST_COPY_FD = 6;

/** A host file or directory bound read-only into the namespaces. */
export interface ReadOnlyMount {
  host: string;
  /** Where the guest sees it, e.g. `/envbox/runner.py`: the host's layout stays hidden. */
  sandbox: string;
  /**
   * Hand a file over as data on a pipe (bwrap `--ro-bind-data`) instead of binding it: a bind shows its
   * host path in the guest's /proc/self/mountinfo. The spawner writes the file to the fd
   * {@link copiedMounts} names. @default false
   */
  copy?: boolean;
}

/** The mounts of `guest` handed over as data, each with the child fd the spawner must write it to. */
export function copiedMounts(guest: GuestProgram): { host: string; sandbox: string; fd: number }[] {
  return guest.readOnly.filter((mount) => mount.copy === true).map((mount, index) => ({ host: mount.host, sandbox: mount.sandbox, fd: FIRST_COPY_FD + index }));
}

/** The program a sandbox runs, with what it needs from the host. */
export interface GuestProgram {
  /** Program and arguments; `at(hostPath)` is where the guest sees a mounted host path. */
  argv(at: (hostPath: string) => string): readonly string[];
  /** Host files and directories the program reads, beyond `/usr` (always bound). */
  readOnly: readonly ReadOnlyMount[];
  /** `prlimit` options applied just before the program starts, for programs that cannot set their own. */
  rlimits?: readonly string[];
}

/** What the command line of one sandbox process is built from. */
export interface CommandSpec {
  guest: GuestProgram;
  isolation: Isolation;
  /** Mount a fresh /proc (fails inside Docker, whose /proc is partly masked). */
  procMount: boolean;
  /** The episode's scratch directory on the host: its home and cwd without namespaces (under them it has tmpfs mounts instead). */
  scratchDir: string | undefined;
  /** Size of each tmpfs the guest can write under namespaces: /tmp, /workspace and /dev/shm. */
  tmpBytes: number;
  /** Drop to this uid/gid first (when the server runs as root). */
  uid: number | undefined;
  /** Have bubblewrap report the sandboxed process's host pid on {@link INFO_FD}. @default true */
  reportPid?: boolean;
}

/** The argv (program first) that starts one sandbox process. */
export function sandboxCommand(spec: CommandSpec): string[] {
  const { guest } = spec;
  const namespaces = spec.isolation === 'namespaces';
  const at = (hostPath: string): string => (namespaces ? guest.readOnly.find((mount) => mount.host === hostPath)?.sandbox : undefined) ?? hostPath;
  const inner = [...(guest.rlimits === undefined ? [] : ['prlimit', ...guest.rlimits, '--']), ...guest.argv(at)];
  // choom makes the sandbox (setpriv, bwrap and the guest inherit it) the kernel's first choice
  // under memory pressure (oom_score_adj 1000, which needs no privilege to raise), so an episode
  // that exhausts the appliance's memory is killed (137, state lost), never the server.
  // setpriv drops to the sandbox's uid, forbids regaining privileges, and kills the sandbox if the
  // server dies (PR_SET_PDEATHSIG, set after the uid change so it is not cleared by it).
  const dropUid = [
    'choom',
    '-n',
    String(SANDBOX_OOM_SCORE_ADJ),
    '--',
    'setpriv',
    ...(spec.uid === undefined ? [] : [`--reuid=${spec.uid}`, `--regid=${spec.uid}`, '--clear-groups']),
    '--no-new-privs',
    '--pdeathsig=KILL',
    '--',
  ];
  // The guest's environment is built here, whatever the spawner passed (a harness or a preload may
  // add NODE_OPTIONS and the like to every child's environment).
  if (!namespaces) {
    if (spec.scratchDir === undefined) throw new TypeError('a sandbox without namespaces needs a scratch directory');
    return [...dropUid, 'env', '-i', `HOME=${spec.scratchDir}`, `TMPDIR=${spec.scratchDir}`, ...inner];
  }
  return [
    ...dropUid,
    'bwrap',
    '--unshare-all',
    '--die-with-parent',
    '--new-session',
    '--as-pid-1',
    '--hostname',
    'sandbox',
    '--ro-bind',
    '/usr',
    '/usr',
    '--symlink',
    'usr/lib',
    '/lib',
    '--symlink',
    'usr/lib64',
    '/lib64',
    '--symlink',
    'usr/bin',
    '/bin',
    ...(spec.procMount ? ['--proc', '/proc'] : []),
    '--dev',
    '/dev',
    // Every place the guest can write is a tmpfs of tmpBytes: tmpfs pages are the host's memory and
    // count against no rlimit, and a bind of a host directory would let files fill the host's disk.
    ...['/dev/shm', '/tmp', WORKDIR_IN_SANDBOX].flatMap((dir) => ['--size', String(spec.tmpBytes), '--tmpfs', dir]),
    '--chdir',
    WORKDIR_IN_SANDBOX,
    ...guest.readOnly.filter((mount) => mount.copy !== true).flatMap((mount) => ['--ro-bind', mount.host, mount.sandbox]),
    ...copiedMounts(guest).flatMap((mount) => ['--ro-bind-data', String(mount.fd), mount.sandbox]),
    // The root and /dev are tmpfs mounts bubblewrap makes without a size: read-only once built.
    '--remount-ro',
    '/dev',
    '--remount-ro',
    '/',
    '--clearenv',
    '--setenv',
    'HOME',
    WORKDIR_IN_SANDBOX,
    ...(spec.reportPid === false ? [] : ['--info-fd', String(INFO_FD)]),
    '--',
    ...inner,
  ];
}

