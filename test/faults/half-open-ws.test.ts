/**
 * Fault: WebSocket clients that vanish without a close frame.
 * - Half-open: a peer that did the upgrade by hand over a raw `net` socket, reset and stepped
 *   (answering pings meanwhile), then stopped reading and answering pings: what a peer whose host
 *   died looks like to the server (a kernel that sends no FIN cannot be simulated from userland).
 *   Documented outcome (runtime/ws-endpoint.ts, `wsPingIntervalMs` / `--ws-ping-interval-s`): the
 *   heartbeat drops it, its session closes with reason `disconnect`, its sandbox is released.
 * - Abrupt: `socket.destroy()` while a step runs. Outcome: the session closes (`disconnect`), the
 *   running step is aborted (its sandbox killed, not left to run to its deadline), no unhandled
 *   error, the server goes on serving.
 * Either way, a bystander session is unharmed and nothing leaks.
 * Existing coverage: test/runtime/ws-endpoint.test.ts drops a `ws` peer with autoPong off on
 * echo_env; here the peer is a raw socket and the session holds a real sandbox.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { CodingEnv } from '../../envs/coding_env/index.js';
import type { EnvboxServer, Session } from '../../runtime/index.js';
import { assertNoLeaks, baseline, health, sandboxOfUid, startFaultServer } from '../fixtures/fault-server.js';
import { heartbeatIntervalMs } from '../fixtures/event-loop-lag.js';
import { burningCpu } from '../fixtures/guest-cpu.js';
import { testNoSandboxOutlivesClose, trackSpawnedProcesses } from '../fixtures/sandbox-processes.js';
import { sessionClosed } from '../fixtures/test-server.js';

const spawned = trackSpawnedProcesses();

/** WebSocket opcodes (RFC 6455 §5.2). */
const OPCODE = { text: 0x1, close: 0x8, ping: 0x9, pong: 0xa } as const;

/**
 * A WebSocket client written by hand over a raw TCP socket: it does the upgrade, sends masked text
 * frames, parses the server's frames and answers pings (emitting `ping`) until {@link vanish}.
 */
class RawWsPeer extends EventEmitter {
  readonly socket: Socket;
  readonly #messages: unknown[] = [];
  readonly #waiting: { resolve: (message: any) => void; reject: (error: Error) => void }[] = [];
  #buffer = Buffer.alloc(0);
  #answering = true;
  #ended = false;

  private constructor(socket: Socket, rest: Buffer) {
    super();
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    // A reset from the server after we vanished is expected; the test asserts on the server side.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.#ended = true;
      for (const waiter of this.#waiting.splice(0)) waiter.reject(new Error('the server closed the socket before it answered'));
    });
    this.#receive(rest);
  }

  /** Connect and upgrade to `/ws`; resolves once the server answered 101. */
  static async open(server: EnvboxServer): Promise<RawWsPeer> {
    const { hostname, port } = new URL(server.url);
    const socket = connect(Number(port), hostname);
    await once(socket, 'connect');
    socket.write(
      `GET /ws HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    let head = Buffer.alloc(0);
    while (!head.includes('\r\n\r\n')) {
      const [chunk] = (await once(socket, 'data')) as [Buffer];
      head = Buffer.concat([head, chunk]);
    }
    const end = head.indexOf('\r\n\r\n') + 4;
    const status = head.subarray(0, end).toString('latin1').split('\r\n', 1)[0];
    if (status !== 'HTTP/1.1 101 Switching Protocols') throw new Error(`upgrade refused: ${status}`);
    socket.removeAllListeners('data');
    return new RawWsPeer(socket, head.subarray(end));
  }

  /** Send `message` as one masked text frame (clients must mask, RFC 6455 §5.3). */
  send(message: unknown): void {
    this.#frame(OPCODE.text, Buffer.from(JSON.stringify(message), 'utf8'));
  }

  /** Go silent as a peer whose host vanished: answer no ping and read nothing from now on. */
  vanish(): void {
    this.#answering = false;
    this.socket.pause();
  }

  /** The next text message from the server, parsed; rejects if the socket closes first. */
  next(): Promise<any> {
    if (this.#messages.length > 0) return Promise.resolve(this.#messages.shift());
    if (this.#ended) return Promise.reject(new Error('the socket is closed'));
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  #frame(opcode: number, payload: Buffer): void {
    const mask = randomBytes(4);
    const length = payload.length < 126 ? Buffer.from([0x80 | payload.length]) : Buffer.from([0x80 | 126, payload.length >> 8, payload.length & 0xff]);
    const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!));
    this.socket.write(Buffer.concat([Buffer.from([0x80 | opcode]), length, mask, masked]));
  }

  request(message: unknown): Promise<any> {
    this.send(message);
    return this.next();
  }

  #receive(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      if (this.#buffer.length < 2) return;
      const opcode = this.#buffer[0]! & 0x0f;
      let length = this.#buffer[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (this.#buffer.length < 4) return;
        length = this.#buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this.#buffer.length < 10) return;
        length = Number(this.#buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (this.#buffer.length < offset + length) return;
      const payload = this.#buffer.subarray(offset, offset + length);
      this.#buffer = this.#buffer.subarray(offset + length);
      if (opcode === OPCODE.ping) {
        if (this.#answering) this.#frame(OPCODE.pong, Buffer.from(payload));
        this.emit('ping');
      }
      else if (opcode === OPCODE.close) this.emit('close-frame', payload.length >= 2 ? payload.readUInt16BE(0) : undefined);
      else if (opcode === OPCODE.text) {
        const message: unknown = JSON.parse(payload.toString('utf8'));
        const waiter = this.#waiting.shift();
        if (waiter === undefined) this.#messages.push(message);
        else waiter.resolve(message);
      }
    }
  }
}

/** Whether process `pid` is gone (or a zombie, or has SIGKILL pending) within `timeoutMs`. */
async function killedWithin(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    let status: string;
    try {
      status = await readFile(`/proc/${pid}/status`, 'utf8');
    } catch {
      return true;
    }
    const state = /^State:\s*(\S)/m.exec(status)?.[1];
    const pending = BigInt(`0x${/^ShdPnd:\s*(\S+)/m.exec(status)?.[1] ?? '0'}`) | BigInt(`0x${/^SigPnd:\s*(\S+)/m.exec(status)?.[1] ?? '0'}`);
    if (state === 'Z' || (pending & (1n << 8n)) !== 0n) return true;
    if (performance.now() > deadline) return false;
    await delay(10);
  }
}

/** A raw peer with a reset Python episode; its session, the guest's pid, and the session's close. */
async function rawEpisode(t: Test, server: EnvboxServer): Promise<{ peer: RawWsPeer; session: Session; guestPid: number; closed: ReturnType<typeof sessionClosed> }> {
  const opened = once(server.app.sessions, 'session-opened');
  const peer = await RawWsPeer.open(server);
  t.teardown(() => peer.socket.destroy());
  const [session] = (await opened) as [Session];
  const closed = sessionClosed(server, session.id);
  t.equal((await peer.request({ type: 'reset', data: {} })).type, 'observation', 'the raw peer reset');
  t.equal((await peer.request({ type: 'step', data: { code: 'x = 1' } })).data.observation.exit_code, 0, 'and stepped');
  const uid = Number((await peer.request({ type: 'step', data: { code: 'import os; os.getuid()' } })).data.observation.metadata.result);
  const guest = (await sandboxOfUid(uid)).find((row) => !/^(bwrap|setpriv) /.test(row.args));
  if (guest === undefined) throw new Error(`no guest process of uid ${uid}`);
  return { peer, session, guestPid: guest.pid, closed };
}

/** A WebSocket bystander (the real client, which answers pings) with state `y = 7`. */
async function bystander(t: Test, server: EnvboxServer): Promise<CodingEnv> {
  const env = new CodingEnv({ baseUrl: server.url, transport: 'ws' });
  t.teardown(() => env.close());
  await env.reset();
  await env.step({ code: 'y = 7' });
  return env;
}

t.test('a half-open peer (stops reading, never pongs) is dropped by the heartbeat; its session and sandbox are freed', async (t) => {
  const server = await startFaultServer(t, {}, { wsPingIntervalMs: await heartbeatIntervalMs(200) });
  const before = await baseline(server);
  const alive = await bystander(t, server);
  const { peer, session, guestPid, closed } = await rawEpisode(t, server);

  // Pings came and were answered while the peer was alive; now it goes silent.
  await once(peer, 'ping');
  peer.vanish();
  const [, reason] = await closed;
  t.equal(reason, 'disconnect', 'the heartbeat dropped the silent peer: session closed (disconnect)');
  await session.close('disconnect');
  t.ok(await killedWithin(guestPid, 10_000), `its sandbox's guest (pid ${guestPid}) was killed when the session closed`);

  t.equal((await alive.step({ code: 'y' })).observation.metadata.result, '7', 'the bystander, which answers pings, is still served');
  await alive.close();
  await assertNoLeaks(t, server, before);
});

t.test('socket.destroy() mid-step: the step is aborted, the session freed, no unhandled error, the server goes on', async (t) => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  t.teardown(() => process.off('unhandledRejection', onUnhandled));
  // The default heartbeat (30 s): whatever frees the session here, it is not a missed pong.
  const server = await startFaultServer(t);
  const before = await baseline(server);
  const alive = await bystander(t, server);
  const { peer, session, guestPid, closed } = await rawEpisode(t, server);

  // A step far from its deadline, running (burning CPU) when the socket goes.
  peer.send({ type: 'step', data: { code: 'while True: pass' }, timeout_s: 25 });
  await burningCpu(guestPid);
  peer.socket.destroy();
  const [, reason] = await closed;
  t.equal(reason, 'disconnect', 'the session closed (disconnect)');
  await session.close('disconnect');
  t.ok(await killedWithin(guestPid, 10_000), `the running step's sandbox (pid ${guestPid}) was killed, not left to run to its 25 s deadline`);

  t.equal((await health(server)).status, 'healthy', 'the server is up');
  t.equal((await alive.step({ code: 'y' })).observation.metadata.result, '7', 'the bystander is still served');
  const fresh = new CodingEnv({ baseUrl: server.url, transport: 'ws' });
  t.teardown(() => fresh.close());
  await fresh.reset();
  t.equal((await fresh.step({ code: '6 * 7' })).observation.metadata.result, '42', 'and a new WebSocket session works');
  await Promise.all([alive.close(), fresh.close()]);
  t.same(unhandled, [], 'no unhandled rejection');
  await assertNoLeaks(t, server, before);
});

testNoSandboxOutlivesClose(t, spawned);
