import WebSocket from 'ws';

/** How a socket was closed, as the kit saw it. */
export interface WsClosed {
  code: number;
  reason: string;
}

/** A message that did not come: the socket closed first, or the wait timed out. */
export class WsWaitError extends Error {
  override readonly name = 'WsWaitError';
}

/**
 * A raw WebSocket peer for the conformance kit: it keeps every message it receives, in order, so
 * a check awaits the next one without missing one that came early. Messages are parsed as JSON
 * where they are JSON; a frame that is not is kept as its text.
 */
export class WsPeer {
  readonly #ws: WebSocket;
  readonly #received: unknown[] = [];
  readonly #waiting: { resolve: (message: unknown) => void; reject: (error: Error) => void }[] = [];
  readonly #timeoutMs: number;
  #closed: WsClosed | undefined;
  /** Resolves with the close code and reason when the socket is closed, by either side. */
  readonly closed: Promise<WsClosed>;

  private constructor(ws: WebSocket, timeoutMs: number) {
    this.#ws = ws;
    this.#timeoutMs = timeoutMs;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.#closed = { code, reason: reason.toString() };
        for (const waiter of this.#waiting.splice(0)) waiter.reject(new WsWaitError(`the socket closed (${code}${reason.length > 0 ? ` ${reason.toString()}` : ''}) before a reply came`));
        resolve(this.#closed);
      });
    });
    ws.on('message', (data) => {
      const text = data.toString();
      let message: unknown;
      try {
        message = JSON.parse(text);
      } catch {
        message = text;
      }
      const waiter = this.#waiting.shift();
      if (waiter === undefined) this.#received.push(message);
      else waiter.resolve(message);
    });
  }

  /**
   * Open a socket to `url` (`ws://` or `wss://`).
   * @param timeoutMs how long the handshake and each later wait may take
   * @throws when the handshake fails or times out (a refusal names the HTTP status)
   */
  static async connect(url: string, options: { token?: string; timeoutMs: number }): Promise<WsPeer> {
    const ws = new WebSocket(url, {
      handshakeTimeout: options.timeoutMs,
      perMessageDeflate: false,
      ...(options.token === undefined ? {} : { headers: { authorization: `Bearer ${options.token}` } }),
    });
    const peer = new WsPeer(ws, options.timeoutMs);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_request, response) => {
        ws.terminate();
        reject(new Error(`the WebSocket upgrade of ${url} was answered ${response.statusCode}`));
      });
      ws.once('error', reject);
    });
    // Later errors end in 'close', which the waiters hear about.
    ws.on('error', () => {});
    return peer;
  }

  /** Send a message: JSON for a value, as is for a string (to send a malformed frame). */
  send(message: unknown): void {
    this.#ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /**
   * The next message received.
   * @throws {WsWaitError} when the socket closes first, or none comes within the peer's timeout
   */
  async next(): Promise<unknown> {
    if (this.#received.length > 0) return this.#received.shift();
    if (this.#closed !== undefined) throw new WsWaitError(`the socket is closed (${this.#closed.code}); no reply came`);
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (message: unknown) => {
          clearTimeout(timer);
          resolve(message);
        },
        reject: (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.#waiting.splice(this.#waiting.indexOf(waiter), 1);
        reject(new WsWaitError(`no reply within ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
      this.#waiting.push(waiter);
    });
  }

  /** Send `message` and wait for the reply. */
  async call(message: unknown): Promise<unknown> {
    this.send(message);
    return this.next();
  }

  /** Messages received but not yet read. */
  get pending(): number {
    return this.#received.length;
  }

  /** Drop the connection at once. Idempotent. */
  close(): void {
    if (this.#closed === undefined) this.#ws.terminate();
  }
}
