import { Agent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import {
  CreateSessionResponse,
  ErrorResponse,
  errorFromWire,
  ProtocolError,
  StepResponse,
  TransportError,
  type EnvboxError,
} from '../protocol/index.js';
import { parseResponse as parse } from './parse-response.js';
import { watchCall, type CallOptions, type GiveUpReason, type Transport } from './transport.js';

/** Which session an HTTP client acts on. */
export type HttpSession =
  /** Open a session of its own (`POST /sessions`) on first use; close it on `close()`. */
  | 'new'
  /** The server's default session (plain OpenEnv HTTP, shared by every client that uses it). */
  | 'default'
  /** An existing session, by id; left open on `close()`. */
  | { id: string };

/** Options of {@link HttpTransport}. */
export interface HttpTransportOptions {
  baseUrl: string;
  session: HttpSession;
  /** Extra headers on every request (e.g. `Authorization`). */
  headers?: Readonly<Record<string, string>>;
}

interface RawResponse {
  status: number;
  body: Buffer;
}

/** The HTTP transport: JSON over keep-alive connections, one agent per client. */
export class HttpTransport implements Transport {
  readonly #base: URL;
  readonly #session: HttpSession;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #agent: Agent;
  readonly #request: typeof httpRequest;
  #sessionId: Promise<string | undefined> | undefined;
  #closed = false;

  constructor(options: HttpTransportOptions) {
    this.#base = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
    this.#session = options.session;
    this.#headers = options.headers ?? {};
    const https = this.#base.protocol === 'https:';
    this.#agent = https ? new HttpsAgent({ keepAlive: true }) : new Agent({ keepAlive: true });
    this.#request = https ? httpsRequest : httpRequest;
  }

  /** The id of the session in use, opening it first when the mode is `new`; undefined for the default session. */
  async sessionId(options: CallOptions): Promise<string | undefined> {
    if (this.#closed) throw new TransportError('This client is closed; create a new one.');
    if (this.#sessionId === undefined) {
      const session = this.#session;
      if (session === 'default') this.#sessionId = Promise.resolve(undefined);
      else if (session === 'new') {
        this.#sessionId = this.#call('POST', 'sessions', undefined, {}, options).then(
          (body) => parse(CreateSessionResponse, body, 'POST /sessions').session_id,
        );
        // A failed open (e.g. capacity) is retried on the next call.
        this.#sessionId.catch(() => {
          this.#sessionId = undefined;
        });
      } else this.#sessionId = Promise.resolve(session.id);
    }
    return this.#sessionId;
  }

  async reset(body: Record<string, unknown>, options: CallOptions): Promise<StepResponse> {
    return parse(StepResponse, await this.#inSession('POST', 'reset', body, options), 'POST /reset');
  }

  async step(action: unknown, timeoutS: number | undefined, options: CallOptions): Promise<StepResponse> {
    const body = timeoutS === undefined ? { action } : { action, timeout_s: timeoutS };
    return parse(StepResponse, await this.#inSession('POST', 'step', body, options), 'POST /step');
  }

  async state(options: CallOptions): Promise<unknown> {
    return this.#inSession('GET', 'state', undefined, options);
  }

  /**
   * A JSON request outside any session (routes such as `POST /evaluate` or the Task API's).
   * @returns the parsed body of a 2xx answer
   * @throws {EnvboxError} the server's error, rebuilt from its envelope; {@link TransportError} when it cannot be reached
   */
  async request(method: string, path: string, body: unknown, options: CallOptions): Promise<unknown> {
    if (this.#closed) throw new TransportError('This client is closed; create a new one.');
    return this.#call(method, path.replace(/^\//, ''), body, {}, options);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    const opened = this.#session === 'new' ? this.#sessionId : undefined;
    this.#closed = true;
    try {
      const id = await opened?.catch(() => undefined);
      if (id !== undefined) {
        await this.#call('DELETE', `sessions/${encodeURIComponent(id)}`, undefined, {}, { timeoutMs: 10_000 }).catch(
          (error: EnvboxError) => {
            // Already gone (reaped for idleness, or the server restarted): nothing left to close.
            if (error.code !== 'SESSION_NOT_FOUND' && error.code !== 'TRANSPORT') throw error;
          },
        );
      }
    } finally {
      this.#agent.destroy();
    }
  }

  async #inSession(method: string, path: string, body: unknown, options: CallOptions): Promise<unknown> {
    const id = await this.sessionId(options);
    return this.#call(method, path, body, id === undefined ? {} : { 'x-session-id': id }, options);
  }

  async #call(method: string, path: string, body: unknown, headers: Record<string, string>, options: CallOptions): Promise<unknown> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const url = new URL(path, this.#base);
    const response = await this.#send(url, method, payload, headers, options);
    let json: unknown;
    try {
      json = JSON.parse(response.body.toString('utf8'));
    } catch (error) {
      throw new ProtocolError(`${method} ${url.pathname} answered ${response.status} with a body that is not JSON.`, { cause: error });
    }
    if (response.status >= 400) {
      const envelope = ErrorResponse.safeParse(json);
      if (!envelope.success) {
        throw new ProtocolError(`${method} ${url.pathname} answered ${response.status} without an error envelope.`, {
          details: json,
        });
      }
      throw errorFromWire(envelope.data.error, response.status);
    }
    return json;
  }

  #send(url: URL, method: string, payload: Buffer | undefined, headers: Record<string, string>, options: CallOptions): Promise<RawResponse> {
    return new Promise<RawResponse>((resolve, reject) => {
      let gaveUp: GiveUpReason | undefined;
      const request = this.#request(url, {
        method,
        agent: this.#agent,
        headers: {
          accept: 'application/json',
          ...this.#headers,
          ...headers,
          ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': payload.length }),
        },
      });
      const stop = watchCall(options, (reason) => {
        gaveUp = reason;
        const error = new Error(reason);
        request.destroy(error);
        reject(transportError(method, url, error, reason));
      });
      const fail = (error: Error): void => {
        stop();
        reject(transportError(method, url, error, gaveUp));
      };
      request.on('response', (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          stop();
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) });
        });
        response.on('error', fail);
      });
      request.on('error', fail);
      request.end(payload);
    });
  }
}

function transportError(method: string, url: URL, error: Error, gaveUp: GiveUpReason | undefined): TransportError {
  const why = gaveUp ?? `failed (${error.message})`;
  return new TransportError(`${method} ${url.href} ${why}; is the server running at ${url.origin}?`, { cause: error });
}
