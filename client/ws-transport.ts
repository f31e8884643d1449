import WebSocket from 'ws';
import {
  ErrorResponse,
  errorFromWire,
  ProtocolError,
  TransportError,
  WsServerMessage,
  type EnvboxError,
  type StepResponse,
} from '../protocol/index.js';
import { parseResponse } from './parse-response.js';
import { watchCall, type CallOptions, type Transport } from './transport.js';

/** Options of {@link WsTransport}. */
export interface WsTransportOptions {
  baseUrl: string;
  /** Extra headers on the upgrade request (e.g. `Authorization`). */
  headers?: Readonly<Record<string, string>>;
  /** Give up connecting after this long. @default 10 s */
  connectTimeoutMs?: number;
}

/** @default 10 s */
export const DEFAULT_WS_CONNECT_TIMEOUT_MS = 10_000;
/** How long `close()` waits for the server to close the socket before closing it itself. @default 2 s */
export const WS_CLOSE_WAIT_MS = 2_000;

interface Pending {
  resolve(message: WsServerMessage): void;
  reject(error: EnvboxError): void;
}

/**
 * The WebSocket transport: one connection, one session, requests answered in order. A call that
 * times out breaks the connection (its answer would arrive out of turn), so the session is lost.
 */
export class WsTransport implements Transport {
  readonly #url: string;
  readonly #options: WsTransportOptions;
  readonly #pending: Pending[] = [];
  #socket: Promise<WebSocket> | undefined;
  /** Why the connection is unusable: closed by us, by the server, or broken. */
  #broken: EnvboxError | undefined;

  constructor(options: WsTransportOptions) {
    const url = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    this.#url = new URL('ws', url).href;
    this.#options = options;
  }

  async reset(body: Record<string, unknown>, options: CallOptions): Promise<StepResponse> {
    return expect(await this.#call({ type: 'reset', data: body }, options), 'observation', 'reset');
  }

  async step(action: unknown, timeoutS: number | undefined, options: CallOptions): Promise<StepResponse> {
    const message = timeoutS === undefined ? { type: 'step', data: action } : { type: 'step', data: action, timeout_s: timeoutS };
    return expect(await this.#call(message, options), 'observation', 'step');
  }

  async state(options: CallOptions): Promise<unknown> {
    return expect(await this.#call({ type: 'state' }, options), 'state', 'state');
  }

  async close(): Promise<void> {
    const opening = this.#socket;
    this.#fail(new TransportError('This client is closed; create a new one.'));
    const socket = await opening?.catch(() => undefined);
    if (socket === undefined || socket.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    // The server answers `close` by closing the session and the socket; closing our side at once
    // would make it drop the message and record a disconnect instead.
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: 'close' }));
    const closing = setTimeout(() => socket.close(1000), WS_CLOSE_WAIT_MS);
    const terminating = setTimeout(() => socket.terminate(), 2 * WS_CLOSE_WAIT_MS);
    await closed;
    clearTimeout(closing);
    clearTimeout(terminating);
  }

  async #call(message: object, options: CallOptions): Promise<WsServerMessage> {
    const socket = await this.#connect();
    if (this.#broken !== undefined) throw this.#broken;
    if (options.signal?.aborted === true) {
      throw new TransportError('The WebSocket call was aborted before it was sent.', { cause: options.signal.reason });
    }
    return new Promise<WsServerMessage>((resolve, reject) => {
      const stop = watchCall(options, (reason) => {
        // Later answers would be matched to the wrong calls: the connection cannot be reused.
        this.#fail(new TransportError(`A WebSocket call ${reason}; the connection and its session are closed.`));
        socket.terminate();
      });
      this.#pending.push({
        resolve: (reply) => {
          stop();
          resolve(reply);
        },
        reject: (error) => {
          stop();
          reject(error);
        },
      });
      socket.send(JSON.stringify(message));
    });
  }

  #connect(): Promise<WebSocket> {
    if (this.#broken !== undefined) return Promise.reject(this.#broken);
    this.#socket ??= new Promise<WebSocket>((resolve, reject) => {
      const socket = new WebSocket(this.#url, {
        headers: { ...this.#options.headers },
        perMessageDeflate: false,
        handshakeTimeout: this.#options.connectTimeoutMs ?? DEFAULT_WS_CONNECT_TIMEOUT_MS,
      });
      socket.on('open', () => resolve(socket));
      // The server refused the upgrade with an HTTP answer (401 without a valid token): rebuild its error.
      socket.on('unexpected-response', (request, response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const failure = refusedUpgrade(this.#url, response.statusCode ?? 0, Buffer.concat(chunks));
          this.#fail(failure);
          reject(failure);
          request.destroy();
        });
        response.on('error', () => request.destroy());
      });
      socket.on('message', (data) => this.#receive(data));
      socket.on('error', (error) => {
        const failure = new TransportError(`WebSocket ${this.#url} failed (${error.message}); is the server running?`, { cause: error });
        this.#fail(failure);
        reject(failure);
      });
      socket.on('close', (code, reason) => {
        this.#fail(new TransportError(`WebSocket closed by the server (${code}${reason.length > 0 ? `: ${reason.toString()}` : ''}).`));
      });
    });
    return this.#socket;
  }

  #receive(data: WebSocket.RawData): void {
    let message: WsServerMessage;
    try {
      const json: unknown = JSON.parse(Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8'));
      message = parseResponse(WsServerMessage, json, 'WebSocket');
    } catch (error) {
      this.#fail(error instanceof ProtocolError ? error : new ProtocolError('WebSocket message is not JSON.', { cause: error }));
      return;
    }
    const pending = this.#pending.shift();
    if (message.type === 'error') {
      const error = errorFromWire(message.data);
      // An error nobody asked for (capacity at connect) makes the connection unusable.
      if (pending === undefined) this.#fail(error);
      else pending.reject(error);
      return;
    }
    if (pending === undefined) this.#fail(new ProtocolError(`Unexpected WebSocket message of type ${message.type}.`));
    else pending.resolve(message);
  }

  /** Mark the connection unusable and reject every waiting call with `error`. */
  #fail(error: EnvboxError): void {
    this.#broken ??= error;
    for (const pending of this.#pending.splice(0)) pending.reject(this.#broken);
  }
}

/** The error an HTTP answer to the upgrade carries: the envelope's class, else a {@link TransportError}. */
function refusedUpgrade(url: string, status: number, body: Buffer): EnvboxError {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    json = undefined;
  }
  const envelope = ErrorResponse.safeParse(json);
  if (envelope.success) return errorFromWire(envelope.data.error, status);
  return new TransportError(`WebSocket ${url} was refused with HTTP ${status}; is it an envbox server?`);
}

function expect(message: WsServerMessage, type: 'observation', call: string): StepResponse;
function expect(message: WsServerMessage, type: 'state', call: string): Record<string, unknown>;
function expect(message: WsServerMessage, type: 'observation' | 'state', call: string): unknown {
  if (message.type !== type) throw new ProtocolError(`WebSocket ${call} answered ${message.type}, expected ${type}.`);
  return message.data;
}
