import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { SandboxUnavailableError } from '../../protocol/index.js';
import { RUNNER_IN_SANDBOX, SANDBOX_OOM_SCORE_ADJ, SANDBOX_START_TIMEOUT_MS as TEMPLATE_START_TIMEOUT_MS, WORKDIR_IN_SANDBOX } from './command.js';
import { FrameChannel } from './frame-channel.js';

/** The template (zygote) program, beside the runner. */
export const TEMPLATE_PATH = fileURLToPath(new URL('../python/template.py', import.meta.url));

/** How much of the template's own stderr is kept for diagnostics. */
const DIAGNOSTIC_TAIL_BYTES = 4096;

/**
 * The template's command line: its program comes on fd 5 (to its end), its configuration as the
 * first frame on fd 3, so no host path is on it. Every forked sandbox rewrites it, in place, to what
 * a cold sandbox's is (see {@link coldCommandLine}): the filler argument makes the two the same length.
 */
const BOOTSTRAP = "import os;exec(compile(os.fdopen(5).read(),'/envbox/template.py','exec'),{'__name__':'__envbox_template__'})";

/** What /proc/1/cmdline shows in a sandbox started cold (bubblewrap running the runner). */
function coldCommandLine(pythonPath: string, runnerArgument: string): string {
  return [pythonPath, '-I', '-B', RUNNER_IN_SANDBOX, runnerArgument].map((arg) => `${arg}\0`).join('');
}

/** The template's argv after the program: python's flags, the bootstrap, a filler to {@link coldCommandLine}'s length. */
function templateArguments(pythonPath: string, runnerArgument: string): string[] {
  const fixed = [pythonPath, '-I', '-B', '-c', BOOTSTRAP];
  const used = fixed.reduce((sum, arg) => sum + Buffer.byteLength(arg) + 1, 0) + 1;
  const filler = Math.max(1, Buffer.byteLength(coldCommandLine(pythonPath, runnerArgument)) - used);
  return [...fixed.slice(1), '_'.repeat(filler)];
}

/** What a template forks its sandboxes with. */
export interface TemplateOptions {
  pythonPath: string;
  /** The step runner's source and its configuration (limits, subprocess policy). */
  runnerPath: string;
  runnerConfig: unknown;
  /** Mount a fresh /proc in each sandbox (not inside Docker). */
  procMount: boolean;
  /** Size of each of a sandbox's /tmp, /workspace and /dev/shm. */
  tmpBytes: number;
}

/** A sandbox the template forked: its channel and its pid, as the host sees them. */
export interface ForkedGuest {
  /** The runner's channel (the frames after the hello): the runner's ready frame comes first. */
  channel: FrameChannel;
  socket: Socket;
  /** Host pid of the sandbox's pid 1 (its CPython), also its process group. */
  pid: number;
  /** Resolves when the sandbox is gone, with its exit code (negative: killed by that signal), or null if unknown. */
  exited: Promise<number | null>;
}

interface Pending {
  /** The id of its first request; a request lost with a dead template is sent again under another. */
  id: number;
  ids: number[];
  uid: number | undefined;
  resolve: (guest: ForkedGuest) => void;
  reject: (error: Error) => void;
  socket?: Socket | undefined;
  channel?: FrameChannel | undefined;
  pid?: number;
  /** Which attempt the pid and the channel came from. */
  pidId?: number;
  socketId?: number;
  timer: NodeJS.Timeout;
  /** Drops the abort listener. */
  forget?: () => void;
}

/** SIGKILL `pid` if it is still there. */
function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Gone already.
  }
}

interface Ending {
  resolve: (code: number | null) => void;
  code?: number | null;
}

/** Counts for `/health` and `/metrics`. */
export interface TemplateStats {
  /** Sandboxes forked since the backend started. */
  forks: number;
  /** Fork requests that failed (the template broke, or a sandbox could not be built). */
  failures: number;
  /** Templates started after the first (each after the previous one died). */
  restarts: number;
}

/**
 * A Python template (zygote) and the socket its sandboxes connect to: forks fresh, fully isolated
 * sandboxes at the cost of a fork and an unshare instead of a bubblewrap and a CPython start. A
 * template that dies is started again by the next fork; sandboxes it forked live on (each has a
 * keeper process of its own, see template.py).
 */
export class SandboxTemplate {
  readonly #options: TemplateOptions;
  readonly #dir: string;
  readonly #socketPath: string;
  readonly #server: Server;
  readonly #pending = new Map<number, Pending>();
  readonly #endings = new Map<number, Ending>();
  #child: ChildProcess | undefined;
  #channel: FrameChannel | undefined;
  #starting: Promise<void> | undefined;
  #nextId = 1;
  #closed = false;
  #diagnostics = '';
  readonly stats: TemplateStats = { forks: 0, failures: 0, restarts: 0 };
  #started = 0;

  private constructor(options: TemplateOptions, dir: string, server: Server) {
    this.#options = options;
    this.#dir = dir;
    this.#socketPath = join(dir, 'sandboxes.sock');
    this.#server = server;
    server.on('connection', (socket) => this.#accept(socket));
  }

  /**
   * Start a template and its socket; resolves once the template is ready to fork.
   * @throws {SandboxUnavailableError} when the template cannot start, with its last words
   */
  static async start(options: TemplateOptions): Promise<SandboxTemplate> {
    // A directory only the server's uid (and, as root, nobody else) can enter: no other local user
    // can connect to the socket and pose as a sandbox.
    const dir = await mkdtemp(join(tmpdir(), 'envbox-template-'));
    await chmod(dir, 0o700);
    const server = createServer({ allowHalfOpen: false });
    server.unref();
    const template = new SandboxTemplate(options, dir, server);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(template.#socketPath, () => {
          server.off('error', reject);
          resolve();
        });
      });
      await template.#ensureRunning();
      return template;
    } catch (error) {
      await template.close();
      throw error;
    }
  }

  /**
   * Fork one sandbox, as `uid` when the server runs as root; resolves when the template's keeper has
   * told its pid and the sandbox has connected (its runner's ready frame is the caller's to await).
   */
  async fork(uid: number | undefined, signal?: AbortSignal): Promise<ForkedGuest> {
    await this.#ensureRunning();
    const id = this.#nextId++;
    return new Promise<ForkedGuest>((resolve, reject) => {
      const pending: Pending = {
        id,
        ids: [id],
        uid,
        resolve,
        reject,
        timer: setTimeout(() => this.#fail(id, new Error('the template forked no sandbox in time')), TEMPLATE_START_TIMEOUT_MS),
      };
      this.#pending.set(id, pending);
      if (signal !== undefined) {
        // The pool's signal is shared by all its starts: the listener goes when this fork settles.
        const onAbort = (): void => this.#fail(id, new Error('start aborted'));
        signal.addEventListener('abort', onAbort, { once: true });
        pending.forget = () => signal.removeEventListener('abort', onAbort);
      }
      this.#channel!.send({ id, uid: uid ?? null });
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const id of [...this.#pending.keys()]) this.#fail(id, new Error('the template was closed'));
    this.#child?.kill('SIGKILL');
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await rm(this.#dir, { recursive: true, force: true });
  }

  /** Host pid of the running template, or null while none runs (or one is starting). */
  get pid(): number | null {
    return this.#starting === undefined ? (this.#child?.pid ?? null) : null;
  }

  #ensureRunning(): Promise<void> {
    if (this.#closed) return Promise.reject(new SandboxUnavailableError('The Python sandbox template is closed.'));
    if (this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null && this.#starting === undefined) return Promise.resolve();
    this.#starting ??= this.#spawn().finally(() => {
      this.#starting = undefined;
    });
    return this.#starting;
  }

  async #spawn(): Promise<void> {
    const runner = await readFile(this.#options.runnerPath, 'utf8');
    const program = await readFile(TEMPLATE_PATH, 'utf8');
    if (this.#started++ > 0) this.stats.restarts++;
    this.#diagnostics = '';
    // No namespaces and no uid drop for the template itself: it needs the host's /proc and (as
    // root) the right to become each sandbox's uid. It never runs guest code. setpriv: no new
    // privileges for it or anything it forks, and it dies with the server.
    // Its environment is set here, whatever the spawner passed (a harness may add NODE_OPTIONS and
    // the like to every child's): exactly a cold sandbox's, which /proc/1/environ shows in a fork.
    const runnerArgument = JSON.stringify(this.#options.runnerConfig);
    const python = this.#options.pythonPath;
    const child = spawn(
      'setpriv',
      ['--no-new-privs', '--pdeathsig=KILL', '--', 'env', '-i', `HOME=${WORKDIR_IN_SANDBOX}`, `PWD=${WORKDIR_IN_SANDBOX}`, python, ...templateArguments(python, runnerArgument)],
      { env: {}, cwd: '/', stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe'], detached: true },
    );
    (child.stdio as unknown as Writable[])[5]!.end(program);
    this.#child = child;
    // The template and its socket do not keep the server's process alive (a live sandbox's channel does).
    child.unref();
    for (const stream of child.stdio) (stream as Partial<Socket> | null)?.unref?.();
    const keep = (chunk: Buffer | string): void => {
      this.#diagnostics = (this.#diagnostics + chunk.toString('utf8')).slice(-DIAGNOSTIC_TAIL_BYTES);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const channel = new FrameChannel(child.stdio[4] as Readable, child.stdio[3] as Writable, (error) => {
      keep(`[envbox: the template broke its channel: ${error.message}]`);
      child.kill('SIGKILL');
    });
    this.#channel = channel;
    const exited = new Promise<string>((resolve) => {
      child.once('exit', (code, signal) => resolve(signal === null ? `exited with code ${code}` : `was killed by ${signal}`));
      child.once('error', (error) => resolve(`could not run (${error.message})`));
    });
    void exited.then((how) => {
      if (this.#child === child) this.#child = undefined;
      this.#retryLost(how);
    });
    channel.send({
      runner,
      config: {
        runner_argument: runnerArgument,
        cmdline: coldCommandLine(python, runnerArgument),
        socket: this.#socketPath,
        proc_mount: this.#options.procMount,
        tmp_bytes: this.#options.tmpBytes,
        oom_score_adj: SANDBOX_OOM_SCORE_ADJ,
      },
    });
    let timer: NodeJS.Timeout | undefined;
    const ready = await Promise.race([
      channel.receive(),
      exited.then((how) => new Error(`the template ${how}`)),
      new Promise<Error>((resolve) => {
        timer = setTimeout(() => resolve(new Error(`the template was not ready after ${TEMPLATE_START_TIMEOUT_MS} ms`)), TEMPLATE_START_TIMEOUT_MS);
      }),
    ]).finally(() => clearTimeout(timer));
    if (ready instanceof Error) {
      child.kill('SIGKILL');
      const words = this.#diagnostics.trim();
      throw new SandboxUnavailableError(`Could not start the Python sandbox template: ${ready.message}.${words === '' ? '' : ` It said: ${words.slice(-800)}`}`);
    }
    void this.#readReplies(channel);
  }

  /**
   * After a template died: every fork it had not answered is asked again of a new template (its
   * keepers outlive it, so a fork it did make may still arrive: whichever comes first is kept, the
   * other killed). A fork fails only if the new template cannot start.
   */
  #retryLost(how: string): void {
    const lost = new Set([...this.#pending.values()].filter((pending) => pending.pid === undefined && pending.socket === undefined));
    if (lost.size === 0 || this.#closed) return;
    this.#ensureRunning().then(
      () => {
        for (const pending of lost) {
          if (this.#pending.get(pending.id) !== pending) continue;
          const id = this.#nextId++;
          pending.ids.push(id);
          this.#pending.set(id, pending);
          this.#channel!.send({ id, uid: pending.uid ?? null });
        }
      },
      (error: Error) => {
        for (const pending of lost) this.#fail(pending.id, new Error(`the template ${how}, and ${error.message}`));
      },
    );
  }

  /** The template's and its keepers' reports: a sandbox's pid, its end, or why a fork failed. */
  async #readReplies(channel: FrameChannel): Promise<void> {
    for (;;) {
      const reply = (await channel.receive()) as { id: number; pid?: number; exit?: number; error?: string };
      const pending = this.#pending.get(reply.id);
      if (reply.error !== undefined) {
        this.#fail(reply.id, new Error(reply.error));
      } else if (reply.pid !== undefined && pending !== undefined && (pending.pid === undefined || pending.socket === undefined || pending.channel === undefined)) {
        if (pending.pid !== undefined) kill(reply.pid); // a second answer to one fork (asked again after a template died)
        else {
          pending.pid = reply.pid;
          pending.pidId = reply.id;
          this.#settle(pending);
        }
      } else if (reply.pid !== undefined) {
        kill(reply.pid); // a fork nobody waits for any more
      } else if (reply.exit !== undefined) {
        const ending = this.#endings.get(reply.id);
        // An end before the fork settled is kept for it; one of a fork nobody holds is dropped.
        if (ending === undefined) {
          if (this.#pending.has(reply.id)) this.#endings.set(reply.id, { resolve: () => undefined, code: reply.exit });
        }
        else {
          this.#endings.delete(reply.id);
          ending.resolve(reply.exit);
        }
      }
    }
  }

  /** A sandbox connected: its first frame names the fork it is. */
  #accept(socket: Socket): void {
    const channel = new FrameChannel(socket, socket, () => socket.destroy());
    socket.once('close', () => undefined);
    void Promise.race([channel.receive(), new Promise<undefined>((resolve) => socket.once('close', () => resolve(undefined)))]).then((hello) => {
      const id = (hello as { id?: unknown } | undefined)?.id;
      const pending = typeof id === 'number' ? this.#pending.get(id) : undefined;
      if (pending === undefined || pending.socket !== undefined) {
        socket.destroy();
        return;
      }
      pending.socket = socket;
      pending.channel = channel;
      pending.socketId = id as number;
      this.#settle(pending);
    });
  }

  #settle(pending: Pending): void {
    if (pending.socket === undefined || pending.channel === undefined || pending.pid === undefined) return;
    if (pending.socketId !== pending.pidId) {
      // The pid of one attempt and the channel of another: both attempts' sandboxes exist; keep the
      // one whose pid is known once its own channel arrives. Rare (a template died mid-fork).
      pending.socket.destroy();
      pending.socket = undefined;
      pending.channel = undefined;
      return;
    }
    clearTimeout(pending.timer);
    pending.forget?.();
    for (const id of pending.ids) this.#pending.delete(id);
    this.stats.forks++;
    const socket = pending.socket;
    // The keeper tells the end under the id of the request it answered.
    const endId = pending.pidId!;
    const exited = new Promise<number | null>((resolve) => {
      const known = this.#endings.get(endId);
      if (known !== undefined) {
        this.#endings.delete(endId);
        resolve(known.code ?? null);
        return;
      }
      this.#endings.set(endId, { resolve });
      // The keeper tells the end before it lets go of the channel; if it was killed itself, the
      // channel's close is all there is.
      socket.once('close', () =>
        setTimeout(() => {
          if (this.#endings.get(endId)?.resolve === resolve) {
            this.#endings.delete(endId);
            resolve(null);
          }
        }, 1000).unref(),
      );
    });
    pending.resolve({ channel: pending.channel, socket, pid: pending.pid, exited });
  }

  #fail(id: number, error: Error): void {
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    for (const each of pending.ids) this.#pending.delete(each);
    pending.forget?.();
    clearTimeout(pending.timer);
    pending.socket?.destroy();
    if (pending.pid !== undefined) kill(pending.pid);
    this.stats.failures++;
    const words = this.#diagnostics.trim();
    pending.reject(
      new SandboxUnavailableError(`Could not fork a Python sandbox from the template: ${error.message}.${words === '' ? '' : ` The template said: ${words.slice(-800)}`}`, {
        cause: error,
      }),
    );
  }
}
