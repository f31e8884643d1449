import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { createCodingEnvDefinition, type CodingEnvOptions, type Language } from '../../envs/coding_env/index.js';
import type { EnvboxServer } from '../../runtime/index.js';
import type { PythonBackendName } from '../../sandbox/index.js';
import { request, startTestServer } from '../fixtures/test-server.js';
import { testNoSandboxOutlivesClose, trackSpawnedProcesses } from '../fixtures/sandbox-processes.js';

/** The server's source directory (the repository root), which no guest may see. */
export const SERVER_DIR = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');

/** The exact safe outcome of one step. */
export interface Outcome {
  /** The step's exit code, or the codes any of which is safe (backends differ only where they must). */
  exit_code: number | readonly number[];
  /** stdout must equal the string, or match the pattern. */
  stdout?: string | RegExp;
  /** stderr must equal the string, or match the pattern. */
  stderr?: string | RegExp;
  /** `metadata.state_lost` must be this. */
  state_lost?: boolean;
  /** stdout + stderr must be at most this many characters (output caps). */
  max_output_chars?: number;
  /** `result` (the step's trailing value, inspected) must equal the string or null, or match the pattern. */
  result?: string | null | RegExp;
  /** `metadata.truncated` must be this. */
  truncated?: boolean;
  /** None of these may appear in stdout, stderr or the result (secrets, host paths). */
  absent?: readonly string[];
}

/**
 * What a hostile program may name, substituted into its code before it runs: `{{SERVER_PORT}}` (the
 * live server's port), `{{SERVER_PID}}` (the pid of the process hosting the server), `{{SERVER_DIR}}`
 * (the server's source directory); all as seen where the server runs (this machine, or inside a
 * remote appliance's container).
 */
export interface CorpusTarget {
  port: number;
  pid: number;
  dir: string;
  /**
   * How many requests for {@link PROBE_PATH} the server has received so far (a guest that reached it);
   * for a remote appliance it may be an upper bound counted from what the server exposes (its /metrics).
   */
  probeRequests: () => number | Promise<number>;
  /**
   * Whether `path` exists on the machine that hosts the server: this one, or the remote appliance's
   * container (a case's `check` that a file it tried to write outside its sandbox is absent).
   */
  pathExists: (path: string) => boolean | Promise<boolean>;
}

/**
 * A remote appliance to run the corpus against (e.g. one a `ContainerProvider` started): where it
 * answers, its token, and the facts of {@link CorpusTarget} as seen inside its container. Whoever
 * started it plants the canary ({@link CANARY_NAME}) in its environment and closes it.
 */
export interface RemoteCorpusTarget extends CorpusTarget {
  /** Where its server answers, e.g. `http://192.168.213.2:30001`. */
  baseUrl: string;
  /** Its bearer token, sent on every request. */
  token: string;
}

/** A server the corpus talks to: one in this process, or a remote appliance. */
export type CorpusServer = EnvboxServer | Pick<RemoteCorpusTarget, 'baseUrl' | 'token'>;

/** One request to `server`, with the bearer token of a remote one. */
export async function corpusRequest(
  server: CorpusServer,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  if (!('baseUrl' in server)) return request(server, method, path, body, headers);
  const init: RequestInit = { method, headers: { ...headers, authorization: `Bearer ${server.token}` } };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(`${server.baseUrl}${path}`, init);
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
}

/** A path hostile programs ask the server for; the harness counts requests for it, which must stay 0. */
export const PROBE_PATH = '/envbox-escape-probe';

/** One hostile program and what it must get. */
export interface HostileCase {
  /** What the program attempts, e.g. `reads /etc/shadow`. */
  name: string;
  /** The program: one step, or several in one episode (every step's outcome is checked). */
  steps: readonly { code: string; expect: Outcome; timeout_s?: number }[];
  /**
   * After the hostile episode, the same session resets and a fresh episode runs this: tampering must not
   * leak across the episode boundary.
   */
  next_episode?: { code: string; expect: Outcome };
  /** Skip with this loud reason (e.g. a wall the host cannot build). */
  skip?: string | false;
  /**
   * A known hole, and why: the case still runs and asserts the safe outcome, with each outcome assertion
   * reported as a tap todo; the server and bystander checks stay strict.
   */
  todo?: string | false;
  /** An extra check of the host after the case (e.g. that a file it tried to write is absent). */
  check?: (t: Test, target: CorpusTarget) => void | Promise<void>;
}

export interface CorpusOptions {
  language: Language;
  /** The Python backend (Python corpora only; a remote appliance has its own, set where it was started). */
  backend?: PythonBackendName;
  cases: readonly HostileCase[];
  /** Options of the in-process server (not with `remote`). */
  env?: CodingEnvOptions;
  /**
   * Run against this remote appliance instead of a server started in this process: it is left up
   * (its owner closes it) and must still be healthy at the end.
   */
  remote?: RemoteCorpusTarget;
}

/**
 * Put into the environment of the process that hosts the server before it starts (by {@link runCorpus});
 * no response may ever contain its value.
 */
export const CANARY_NAME = 'ENVBOX_CANARY_SECRET';
/** The canary's value. */
export const CANARY_VALUE = 'canary-5e7c1d9a-never-in-a-sandbox';

/** A live session on `server`, driven over HTTP with `X-Session-Id`. */
export class CorpusSession {
  private constructor(
    private readonly server: CorpusServer,
    readonly id: string,
    private readonly language: Language,
  ) {}

  static async open(server: CorpusServer, language: Language): Promise<CorpusSession> {
    const created = await corpusRequest(server, 'POST', '/sessions');
    if (created.status !== 200 && created.status !== 201) throw new Error(`POST /sessions answered ${created.status}: ${JSON.stringify(created.body)}`);
    const session = new CorpusSession(server, created.body.session_id, language);
    await session.reset();
    return session;
  }

  async reset(): Promise<void> {
    const reset = await corpusRequest(this.server, 'POST', '/reset', { language: this.language }, { 'X-Session-Id': this.id });
    if (reset.status !== 200) throw new Error(`reset answered ${reset.status}: ${JSON.stringify(reset.body)}`);
  }

  async step(code: string, timeout_s?: number): Promise<{ status: number; body: any }> {
    return corpusRequest(this.server, 'POST', '/step', { action: { code }, ...(timeout_s === undefined ? {} : { timeout_s }) }, { 'X-Session-Id': this.id });
  }

  async close(): Promise<void> {
    await corpusRequest(this.server, 'DELETE', `/sessions/${this.id}`);
  }
}

/** Check one observation against its expected outcome. */
export function checkOutcome(t: Test, response: { status: number; body: any }, expect: Outcome, label: string, todo?: string): void {
  // A known hole: its assertions run and are reported, as tap todos (a todo subtest would not run at all).
  const extra = todo === undefined ? {} : { todo };
  t.equal(response.status, 200, `${label}: the step is answered (200)`, extra);
  const observation = response.body?.observation ?? {};
  const codes = typeof expect.exit_code === 'number' ? [expect.exit_code] : expect.exit_code;
  t.ok(codes.includes(observation.exit_code), `${label}: exit code ${observation.exit_code} is one of ${codes.join(', ')}`, {
    stdout: String(observation.stdout ?? '').slice(0, 2000),
    stderr: String(observation.stderr ?? '').slice(-2000),
    ...extra,
  });
  for (const stream of ['stdout', 'stderr'] as const) {
    const want = expect[stream];
    if (want === undefined) continue;
    const got = String(observation[stream] ?? '');
    if (typeof want === 'string') t.equal(got, want, `${label}: ${stream}`, extra);
    else t.match(got, want, `${label}: ${stream} matches ${want}`, extra);
  }
  if (expect.state_lost !== undefined) t.equal(observation.metadata?.state_lost === true, expect.state_lost, `${label}: state_lost is ${expect.state_lost}`, extra);
  if (expect.result !== undefined) {
    if (expect.result === null || typeof expect.result === 'string') t.equal(observation.metadata.result, expect.result, `${label}: result`, extra);
    else t.match(String(observation.metadata.result), expect.result, `${label}: result matches ${expect.result}`, extra);
  }
  if (expect.truncated !== undefined) t.equal(observation.metadata?.truncated === true, expect.truncated, `${label}: truncated is ${expect.truncated}`, extra);
  for (const secret of expect.absent ?? []) {
    for (const field of ['stdout', 'stderr', 'result'] as const) {
      t.notOk(String(observation[field] ?? '').includes(secret), `${label}: ${field} does not contain ${JSON.stringify(secret)}`, extra);
    }
  }
  if (expect.max_output_chars !== undefined) {
    const chars = String(observation.stdout ?? '').length + String(observation.stderr ?? '').length;
    t.ok(chars <= expect.max_output_chars, `${label}: ${chars} characters of output, at most ${expect.max_output_chars}`, extra);
  }
}

/** The canary ({@link CANARY_VALUE}) appears nowhere in the response body. */
export function checkNoCanary(t: Test, response: { body: any }, label: string): void {
  t.notOk(JSON.stringify(response.body ?? null).includes(CANARY_VALUE), `${label}: the response does not contain the canary from the server's environment`);
}

/**
 * Run a corpus of hostile programs against a live coding_env server: one started in this process
 * (the canary planted in this process's environment first), or `options.remote`. Each case gets a
 * session of its own; after each, a bystander session (made before the first case, with a variable
 * set) must still have its variable, `/health` must answer, and the case's session must be gone
 * after its DELETE. The canary is checked for in every response.
 */
export async function runCorpus(t: Test, options: CorpusOptions): Promise<void> {
  const { remote } = options;
  if (remote !== undefined && (options.env !== undefined || options.backend !== undefined)) {
    throw new Error('Invalid runCorpus options: env and backend configure the in-process server, received them with remote; configure a remote appliance where it is started.');
  }
  let server: CorpusServer;
  let target: CorpusTarget;
  let local: { server: EnvboxServer; spawned: ReturnType<typeof trackSpawnedProcesses> } | undefined;
  if (remote !== undefined) {
    server = remote;
    target = remote;
  } else {
    process.env[CANARY_NAME] = CANARY_VALUE;
    const spawned = trackSpawnedProcesses();
    const definition = await createCodingEnvDefinition({
      poolSize: 2,
      defaultLanguage: options.language,
      ...(options.backend ? { pythonBackend: options.backend } : {}),
      ...options.env,
    });
    const started = await startTestServer(t, {}, definition);
    local = { server: started, spawned };
    server = started;
    let probes = 0;
    started.http.on('request', (incoming: { url?: string }) => {
      if (incoming.url?.startsWith(PROBE_PATH) === true) probes += 1;
    });
    target = { port: started.port, pid: process.pid, dir: SERVER_DIR, probeRequests: () => probes, pathExists: existsSync };
  }
  const python = options.language === 'python';
  const bystander = await CorpusSession.open(server, options.language);
  const set = await bystander.step(python ? 'bystander = 41' : 'var bystander = 41');
  if (set.body?.observation?.exit_code !== 0) throw new Error(`the bystander could not set its variable: ${JSON.stringify(set.body)}`);
  const bystanderCheck = python ? 'print(bystander + 1)' : 'console.log(bystander + 1)';
  const baseline = (await corpusRequest(server, 'GET', '/health')).body.active_sessions as number;
  const substitute = (code: string): string =>
    code.replaceAll('{{SERVER_PORT}}', String(target.port)).replaceAll('{{SERVER_PID}}', String(target.pid)).replaceAll('{{SERVER_DIR}}', target.dir);
  const withTarget = (expect: Outcome): Outcome => (expect.absent ? { ...expect, absent: expect.absent.map(substitute) } : expect);

  for (const hostile of options.cases) {
    const todo = hostile.todo === undefined || hostile.todo === false ? undefined : hostile.todo;
    await t.test(todo === undefined ? hostile.name : `${hostile.name} (TODO: ${todo})`, { skip: hostile.skip ?? false }, async (t) => {
      const session = await CorpusSession.open(server, options.language);
      try {
        for (const [index, step] of hostile.steps.entries()) {
          const response = await session.step(substitute(step.code), step.timeout_s);
          checkOutcome(t, response, withTarget(step.expect), `step ${index + 1}`, todo);
          checkNoCanary(t, response, `step ${index + 1}`);
        }
        if (hostile.next_episode) {
          await session.reset();
          const response = await session.step(substitute(hostile.next_episode.code));
          checkOutcome(t, response, withTarget(hostile.next_episode.expect), 'next episode', todo);
          checkNoCanary(t, response, 'next episode');
        }
        await hostile.check?.(t, target);
      } finally {
        await session.close();
      }
      const health = await corpusRequest(server, 'GET', '/health');
      t.equal(health.status, 200, 'the server is up');
      t.equal(health.body.active_sessions, baseline, 'the case session is gone; only the bystander remains');
      const after = await bystander.step(bystanderCheck);
      t.equal(after.body?.observation?.stdout, '42\n', 'the bystander session kept its state');
    });
  }
  if (local === undefined) {
    await t.test('the appliance is still up, and the bystander closes', async (t) => {
      await bystander.close();
      const health = await corpusRequest(server, 'GET', '/health');
      t.equal(health.status, 200, 'the appliance answers /health');
      t.equal(health.body.active_sessions, baseline - 1, 'no session of the corpus is left');
    });
    return;
  }
  const { server: started, spawned } = local;
  await t.test('the server closes with the bystander still open', async (t) => {
    await started.close(100);
    t.pass('closed');
  });
  if (python && options.backend === 'process') testNoSandboxOutlivesClose(t, spawned);
}
