import type { Isolation } from '../sandbox.js';

/** Where the runner is mounted inside the namespaces. */
const RUNNER_IN_SANDBOX = '/envbox/runner.py';
/** The episode's working directory inside the namespaces. */
export const WORKDIR_IN_SANDBOX = '/workspace';
/** Child fd on which bubblewrap reports the sandboxed process's host pid. */
export const INFO_FD = 5;

/** What the command line of one sandbox process is built from. */
export interface CommandSpec {
  pythonPath: string;
  runnerPath: string;
  /** JSON configuration handed to the runner as its only argument. */
  runnerConfig: string;
  isolation: Isolation;
  /** Mount a fresh /proc (fails inside Docker, whose /proc is partly masked). */
  procMount: boolean;
  /** The episode's scratch directory on the host. */
  scratchDir: string;
  tmpBytes: number;
  /** Drop to this uid/gid first (when the server runs as root). */
  uid: number | undefined;
  /** What Python runs instead of the runner (the isolation probe runs `-c pass`). */
  pythonArgs?: string[];
  /** Have bubblewrap report the sandboxed process's host pid on {@link INFO_FD}. @default true */
  reportPid?: boolean;
}

/** The argv (program first) that starts one sandbox process. */
export function sandboxCommand(spec: CommandSpec): string[] {
  const python = [spec.pythonPath, '-I', '-B'];
  const inner = (runner: string): string[] => [...python, ...(spec.pythonArgs ?? [runner, spec.runnerConfig])];
  // setpriv drops to the sandbox's uid, forbids regaining privileges, and kills the sandbox if the
  // server dies (PR_SET_PDEATHSIG, set after the uid change so it is not cleared by it).
  const dropUid = [
    'setpriv',
    ...(spec.uid === undefined ? [] : [`--reuid=${spec.uid}`, `--regid=${spec.uid}`, '--clear-groups']),
    '--no-new-privs',
    '--pdeathsig=KILL',
    '--',
  ];
  if (spec.isolation === 'process') return [...dropUid, ...inner(spec.runnerPath)];
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
    '--size',
    String(spec.tmpBytes),
    '--tmpfs',
    '/tmp',
    '--bind',
    spec.scratchDir,
    WORKDIR_IN_SANDBOX,
    '--chdir',
    WORKDIR_IN_SANDBOX,
    '--ro-bind',
    spec.runnerPath,
    RUNNER_IN_SANDBOX,
    '--setenv',
    'HOME',
    WORKDIR_IN_SANDBOX,
    ...(spec.reportPid === false ? [] : ['--info-fd', String(INFO_FD)]),
    '--',
    ...inner(RUNNER_IN_SANDBOX),
  ];
}
