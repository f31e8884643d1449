import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { chown, mkdtemp, open, rm, statfs } from 'node:fs/promises';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { SandboxUnavailableError } from '../../protocol/index.js';
import { EXIT_KILLED, EXIT_TIMEOUT, type ExecResult, type Isolation, type RunOptions, type Sandbox } from '../sandbox.js';
import { copiedMounts, INFO_FD, SANDBOX_START_TIMEOUT_MS, sandboxCommand, WORKDIR_IN_SANDBOX, type GuestProgram } from './command.js';
import { startCpuBudget, type CpuBudget } from './cpu-budget.js';
import { FrameChannel } from './frame-channel.js';
import { startInterruptGrace } from './interrupt-grace.js';
import type { SandboxTemplate } from './template.js';
import type { UidPool } from './uid-pool.js';

export { SANDBOX_START_TIMEOUT_MS };
/**
 * How long an interrupted step may take to stop before the sandbox is killed, in the guest's own
 * time (CPU it used, or time it spent blocked; not its waits for a CPU: see `startInterruptGrace`),
 * up to `INTERRUPT_GRACE_CEILING_MS` of wall time. @default 500 ms
 */
export const DEFAULT_INTERRUPT_GRACE_MS = 500;
/** How much of the sandbox process's own stderr is kept for diagnostics. */
const DIAGNOSTIC_TAIL_BYTES = 4096;

/** Everything a {@link ProcessSandbox} is started with. */
export interface ProcessSandboxOptions {
  /** The program holding the episode: it speaks the step runner's frames on fds 3 and 4. */
  guest: GuestProgram;
  isolation: Isolation;
  procMount: boolean;
  tmpBytes: number;
  maxOutputBytes: number;
  interruptGraceMs: number;
  /** Distinct uids per sandbox when the server runs as root; undefined keeps the server's uid. */
  uids: UidPool | undefined;
  /** Bytes written to the guest as one raw frame before anything else (the Pyodide memory snapshot). */
  preamble?: Buffer | undefined;
  /** What the sandbox is called in errors, e.g. `Python sandbox`. @default 'sandbox' */
  label?: string;
  /**
   * For a guest that cannot set its own RLIMIT_CPU and was started with `startLimitS`: once it is
   * ready, its limit is lowered to the CPU it used so far plus `budgetS` (see `startCpuBudget`), so
   * only the episode's own steps spend the budget. Unset: the guest sets its own limit, or has none.
   */
  cpuBudget?: CpuBudget | undefined;
}

interface RunnerReply {
  stdout: string;
  stderr: string;
  exit_code: number;
  result: string | null;
  truncated: boolean;
  interrupted: boolean;
}

type Exit = { code: number | null; signal: NodeJS.Signals | null; error: string | undefined };

/** A sandbox's process as the host holds it: spawned, or forked from a template. */
interface GuestProcess {
  child: ChildProcess | undefined;
  /** Host pid of the guest's interpreter (for a spawned bubblewrap: its own, until it reports the guest's). */
  pythonPid: number;
  group: number;
  channel: FrameChannel;
  exited: Promise<Exit>;
}

/** Why a forked sandbox ended when its keeper told nothing. */
const KEEPER_GONE = 'the sandbox process was killed with its keeper';

function describeExit(exit: Exit): string {
  if (exit.error !== undefined) return exit.error === KEEPER_GONE ? exit.error : `the sandbox process could not run (${exit.error})`;
  return exit.signal === null ? `the sandbox process exited with code ${exit.code}` : `the sandbox process was killed by ${exit.signal}`;
}

/** The name of signal `number`, e.g. `SIGKILL` for 9. */
function signalName(number: number): NodeJS.Signals {
  const found = Object.entries(osConstants.signals).find(([, value]) => value === number);
  return (found?.[0] ?? `SIG${number}`) as NodeJS.Signals;
}

/**
 * A child process holding one episode (CPython, or Node hosting Pyodide): its own uid (and, without
 * namespaces, a scratch directory), rlimits and (where the host allows) namespaces, driven over a private pipe channel by
 * the shared step runner.
 */
export class ProcessSandbox implements Sandbox {
  /** The spawned process (bubblewrap or the guest itself); undefined for a sandbox forked from a template. */
  readonly #child: ChildProcess | undefined;
  /** The process group killed with the sandbox. */
  readonly #group: number;
  /** Its process is known to have ended. */
  #ended = false;
  readonly #channel: FrameChannel;
  readonly #options: ProcessSandboxOptions;
  readonly #scratchDir: string | undefined;
  readonly #uid: number | undefined;
  readonly #exited: Promise<Exit>;
  /** Resolves to undefined when the process exits: raced against each reply. */
  readonly #gone: Promise<undefined>;
  #pythonPid: number;
  #alive = true;
  #running = false;
  #diagnostics = '';
  #closed: Promise<void> | undefined;
  /** Why the sandbox was destroyed, once it was. */
  #death: string | undefined;
  /** Stopped between steps (see {@link ProcessSandbox.run}). */
  #frozen = false;
  /** Processes of the guest outside its process group (setsid), stopped one by one. */
  #frozenStrays: number[] = [];

  private constructor(guest: GuestProcess, options: ProcessSandboxOptions, scratchDir: string | undefined, uid: number | undefined) {
    this.#child = guest.child;
    this.#options = options;
    this.#scratchDir = scratchDir;
    this.#uid = uid;
    this.#pythonPid = guest.pythonPid;
    this.#group = guest.group;
    this.#channel = guest.channel;
    this.#channel.onError = (error) => this.#destroy(`the sandbox broke its channel (${error.message})`);
    this.#exited = guest.exited.then((exit) => {
      this.#alive = false;
      this.#ended = true;
      this.#death ??= describeExit(exit);
      return exit;
    });
    this.#gone = this.#exited.then(() => undefined);
    // Raw writes of the sandbox process to its stdout and stderr are drained, and the tail kept for diagnostics.
    const keep = (chunk: Buffer): void => {
      this.#diagnostics = (this.#diagnostics + chunk.toString('utf8')).slice(-DIAGNOSTIC_TAIL_BYTES);
    };
    this.#child?.stdout?.on('data', keep);
    this.#child?.stderr?.on('data', keep);
  }

  /** The guest of a spawned sandbox process (bubblewrap, or a plain process without namespaces). */
  static #spawned(child: ChildProcess): GuestProcess {
    return {
      child,
      pythonPid: child.pid ?? -1,
      group: child.pid ?? -1,
      channel: new FrameChannel(child.stdio[4] as Readable, child.stdio[3] as Writable, () => undefined),
      exited: new Promise((resolve) => {
        child.once('exit', (code, signal) => resolve({ code, signal, error: undefined }));
        // A failed spawn (e.g. bwrap missing) emits 'error' and no 'exit'.
        child.once('error', (error) => resolve({ code: null, signal: null, error: error.message }));
      }),
    };
  }

  /**
   * Fork a sandbox from a template (template.ts) and wait until its runner reports ready: the same
   * namespaces, mounts, uid and limits as {@link start}'s, without starting a CPython.
   * @throws {SandboxUnavailableError} when it cannot be forked, with why
   */
  static async fork(template: SandboxTemplate, options: ProcessSandboxOptions, signal?: AbortSignal): Promise<ProcessSandbox> {
    let uid = options.uids?.acquire();
    try {
      const forked = await template.fork(uid, signal);
      const guest: GuestProcess = {
        child: undefined,
        pythonPid: forked.pid,
        group: forked.pid,
        channel: forked.channel,
        exited: forked.exited.then((code) => ({
          code: code === null || code >= 0 ? code : null,
          signal: code !== null && code < 0 ? signalName(-code) : null,
          // The keeper tells every end it sees; none told means the keeper died, and the sandbox with it.
          error: code === null ? KEEPER_GONE : undefined,
        })),
      };
      const sandbox = new ProcessSandbox(guest, options, undefined, uid);
      uid = undefined;
      await sandbox.#ready(signal);
      return sandbox;
    } catch (error) {
      if (uid !== undefined) options.uids?.release(uid);
      throw error;
    }
  }

  /**
   * Start a sandbox and wait until its runner reports ready.
   * @throws {SandboxUnavailableError} when it cannot start, with the process's last words
   */
  static async start(options: ProcessSandboxOptions, signal?: AbortSignal): Promise<ProcessSandbox> {
    let uid = options.uids?.acquire();
    let scratchDir: string | undefined;
    try {
      // Under namespaces every place the guest can write is a tmpfs of its own: no host directory.
      if (options.isolation === 'process') {
        scratchDir = await mkdtemp(join(tmpdir(), 'envbox-'));
        if (uid !== undefined) await chown(scratchDir, uid, uid);
      }
      const [program, ...args] = sandboxCommand({
        guest: options.guest,
        isolation: options.isolation,
        procMount: options.procMount,
        scratchDir,
        tmpBytes: options.tmpBytes,
        uid,
      });
      const copies = options.isolation === 'namespaces' ? copiedMounts(options.guest) : [];
      // bubblewrap reads each copied file to its end from an inherited fd before the guest starts.
      // A file opened for this child alone (its own offset), not a pipe: nothing is left for the
      // server's event loop to hold open, whenever the child dies.
      const files = await Promise.all(copies.map((copy) => open(copy.host, 'r')));
      let child: ChildProcess;
      try {
        child = spawn(program!, args, {
          cwd: scratchDir ?? '/',
          // An empty environment: nothing of the server's reaches the guest.
          env: scratchDir === undefined ? {} : { HOME: scratchDir, TMPDIR: scratchDir },
          stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe', ...files.map((file) => file.fd)],
          // Its own process group: Ctrl+C of the server is not a KeyboardInterrupt of every episode,
          // and close() kills whatever the guest started.
          detached: true,
        });
      } finally {
        await Promise.all(files.map((file) => file.close()));
      }
      // From here on the sandbox owns the directory and the uid: its close() frees them.
      const sandbox = new ProcessSandbox(ProcessSandbox.#spawned(child), options, scratchDir, uid);
      scratchDir = undefined;
      uid = undefined;
      if (options.preamble !== undefined) sandbox.#channel.sendRaw(options.preamble);
      await sandbox.#ready(signal);
      return sandbox;
    } catch (error) {
      if (scratchDir !== undefined) await rm(scratchDir, { recursive: true, force: true });
      if (uid !== undefined) options.uids?.release(uid);
      throw error;
    }
  }

  get alive(): boolean {
    return this.#alive;
  }

  /**
   * Bytes of files in the sandbox's private tmpfs mounts (`/tmp`, `/workspace`, `/dev/shm`), read
   * through its root in /proc; 0 without namespaces (its files are on the host's disk) or once gone.
   */
  async writableBytes(): Promise<number> {
    if (this.#options.isolation !== 'namespaces' || !this.#alive) return 0;
    let total = 0;
    for (const dir of ['/tmp', WORKDIR_IN_SANDBOX, '/dev/shm']) {
      try {
        const stats = await statfs(`/proc/${this.#pythonPid}/root${dir}`);
        total += (stats.blocks - stats.bfree) * stats.bsize;
      } catch {
        // Gone meanwhile, or not readable: it counts for nothing.
      }
    }
    return total;
  }

  /** Kill the sandbox to free the memory it holds; its episode's next step answers 137 with `reason`. */
  reclaim(reason: string): void {
    this.#destroy(reason);
  }

  async run(code: string, options: RunOptions): Promise<ExecResult> {
    const started = performance.now();
    if (!this.#alive) return this.#killed(started);
    if (this.#running) throw new Error('ProcessSandbox.run called while a step is running; calls must be serialised');
    this.#running = true;
    const timeoutS = options.timeoutMs / 1000;
    const graceMs = this.#options.interruptGraceMs;
    // Ends the kill grace once the step has answered.
    const answered = new AbortController();
    const deadline = setTimeout(() => {
      // SIGINT: a KeyboardInterrupt at the next bytecode (exit 124, state kept)...
      this.#signal('SIGINT');
      // ...and if the code does not yield (C loops, swallowed interrupts), the sandbox goes. The
      // grace counts the guest's own time, not its waits for a CPU: on a loaded machine a guest
      // heeding the interrupt may not be scheduled within it, and must not be taken for one that
      // ignores it.
      startInterruptGrace({
        pid: this.#pythonPid,
        graceMs,
        signal: answered.signal,
        // Again while the grace runs: one that came before the guest began the step was dropped.
        onRepeat: () => this.#signal('SIGINT'),
        onExpired: ({ elapsedMs, ownMs }) =>
          this.#destroy(
            ownMs >= graceMs
              ? `the step ran past its limit of ${timeoutS} s and ignored the interrupt for ${graceMs} ms`
              : `the step ran past its limit of ${timeoutS} s and had not stopped ${Math.round(elapsedMs)} ms after the interrupt (its process starved of CPU)`,
          ),
      });
    }, options.timeoutMs);
    const onAbort = (): void => this.#destroy('the step was cancelled (its session closed)');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted === true) onAbort();
    this.#thaw();
    try {
      this.#channel.send({
        code,
        timeout_s: timeoutS,
        max_output_bytes: this.#options.maxOutputBytes,
        ...(options.pristineBuiltins === true ? { pristine_builtins: true } : {}),
      });
      const reply = await Promise.race([this.#channel.receive() as Promise<RunnerReply>, this.#gone]);
      if (reply === undefined || !this.#alive) return this.#killed(started);
      return {
        stdout: reply.stdout,
        stderr: reply.stderr,
        exitCode: reply.interrupted ? EXIT_TIMEOUT : reply.exit_code,
        result: reply.result,
        durationMs: performance.now() - started,
        truncated: reply.truncated,
        stateLost: false,
      };
    } finally {
      clearTimeout(deadline);
      answered.abort();
      options.signal?.removeEventListener('abort', onAbort);
      this.#running = false;
      // Off the reply's path (the walk costs ~30-70 µs); skipped if the next step has begun.
      setImmediate(() => {
        if (!this.#running) this.#freeze();
      });
    }
  }

  /**
   * Stop every process of the guest until its next step: its threads, children and timers get no
   * CPU while the episode is not stepping (a step that starts spinning threads and returns would
   * otherwise keep cores busy for every other episode). One SIGSTOP to the guest's process group;
   * then any descendant that left the group (setsid) is stopped on its own, until a walk of the
   * tree finds none new (a stopped process cannot fork). SIGKILL still ends a stopped sandbox.
   */
  #freeze(): void {
    if (!this.#alive || this.#frozen || this.#pythonPid <= 0) return;
    try {
      process.kill(-this.#pythonPid, 'SIGSTOP');
    } catch {
      return;
    }
    this.#frozen = true;
    for (;;) {
      const strays = descendants(this.#pythonPid).filter((pid) => !this.#frozenStrays.includes(pid) && processGroup(pid) !== this.#pythonPid);
      if (strays.length === 0) break;
      for (const pid of strays) {
        try {
          process.kill(pid, 'SIGSTOP');
          this.#frozenStrays.push(pid);
        } catch {
          // Gone meanwhile.
        }
      }
    }
  }

  /** Resume what {@link #freeze} stopped, before a step. */
  #thaw(): void {
    if (!this.#frozen) return;
    this.#frozen = false;
    for (const target of [-this.#pythonPid, ...this.#frozenStrays]) {
      try {
        process.kill(target, 'SIGCONT');
      } catch {
        // Gone meanwhile.
      }
    }
    this.#frozenStrays = [];
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#destroy('the sandbox was closed');
      await this.#exited;
      if (this.#scratchDir !== undefined) await rm(this.#scratchDir, { recursive: true, force: true }).catch(() => undefined);
      if (this.#uid !== undefined) this.#options.uids?.release(this.#uid);
    })();
    return this.#closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #ready(signal: AbortSignal | undefined): Promise<void> {
    // A plain timer: AbortSignal.timeout limits can be dropped after GC on Node 20 (nodejs/node#57736).
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not ready after ${SANDBOX_START_TIMEOUT_MS} ms`)), SANDBOX_START_TIMEOUT_MS);
      onAbort = () => reject(new Error('start aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    aborted.catch(() => undefined);
    try {
      if (this.#options.isolation === 'namespaces' && this.#child !== undefined) this.#pythonPid = await Promise.race([this.#readInfoPid(), aborted]);
      const ready = (await Promise.race([this.#channel.receive(), this.#gone, aborted])) as { error?: string } | undefined;
      if (ready === undefined) throw new Error(this.#death ?? 'the sandbox process exited');
      if (typeof ready.error === 'string') throw new Error(ready.error);
      // Before any step: the guest waits for a frame meanwhile.
      if (this.#options.cpuBudget !== undefined) await Promise.race([startCpuBudget(this.#pythonPid, this.#options.cpuBudget, this.#uid), aborted]);
    } catch (error) {
      await this.close();
      const words = this.#diagnostics.trim();
      throw new SandboxUnavailableError(
        `Could not start a ${this.#options.label ?? 'sandbox'}: ${(error as Error).message}.${words === '' ? '' : ` It said: ${words.slice(-800)}`}`,
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
    }
  }

  /** bubblewrap writes `{"child-pid": N, ...}` on its info fd: the host pid of the sandboxed Python. */
  #readInfoPid(): Promise<number> {
    const info = (this.#child!.stdio as unknown as Readable[])[INFO_FD]!;
    return new Promise((resolve, reject) => {
      let text = '';
      // Keep reading to the end: a reader that stops early makes bwrap's next write die of SIGPIPE.
      info.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
        const match = /"child-pid":\s*(\d+)/.exec(text);
        if (match !== null) resolve(Number(match[1]));
      });
      info.once('end', () =>
        reject(new Error(`bubblewrap reported no child pid (${this.#diagnostics.trim().slice(-400) || 'no output'})`)),
      );
      info.once('error', reject);
    });
  }

  #signal(signal: NodeJS.Signals): void {
    try {
      process.kill(this.#pythonPid, signal);
    } catch {
      // Already gone: the exit handler reports it.
    }
  }

  /** Kill the whole sandbox (its process group; the namespace dies with its pid 1). */
  #destroy(reason: string): void {
    this.#death ??= reason;
    this.#alive = false;
    // Always kill both, even when bwrap is already gone: a sandboxed Python outlives a dead bwrap
    // (--die-with-parent watches bwrap's parent, the server, not bwrap).
    // A forked sandbox's end is told by its keeper: after it, its pid may be another process's.
    if (this.#child === undefined && this.#ended) return;
    for (const target of [-this.#group, this.#pythonPid]) {
      try {
        if (target !== 0 && target !== -1) process.kill(target, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }

  #killed(started: number): ExecResult {
    return {
      stdout: '',
      stderr: `envbox: ${this.#death ?? 'the sandbox is gone'}; its state is lost and the next step starts in a fresh sandbox.\n`,
      exitCode: EXIT_KILLED,
      result: null,
      durationMs: performance.now() - started,
      truncated: false,
      stateLost: true,
    };
  }
}

/** Every descendant of `pid`, from /proc's children lists (empty once it is gone). */
function descendants(pid: number): number[] {
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.pop()!;
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${parent}/task`);
    } catch {
      continue;
    }
    for (const task of tasks) {
      let children = '';
      try {
        children = readFileSync(`/proc/${parent}/task/${task}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const child of children.split(' ')) {
        const id = Number(child);
        if (child.trim() !== '' && !found.includes(id)) {
          found.push(id);
          queue.push(id);
        }
      }
    }
  }
  return found;
}

/** The process group of `pid` (field 5 of /proc/<pid>/stat), or -1 once it is gone. */
function processGroup(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return -1;
  }
}
