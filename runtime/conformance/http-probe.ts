import { ErrorResponse } from '../../protocol/index.js';

/** What one HTTP request got: the status, the body's text, and the body as JSON when it is JSON. */
export interface ProbeReply {
  status: number;
  text: string;
  /** The parsed body; `undefined` when it is not JSON. */
  json: unknown;
}

/** Where the probe sends and how long it waits. */
export interface HttpProbeOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** Each request's deadline. */
  timeoutMs: number;
  /** Aborts every request. */
  signal?: AbortSignal;
}

/**
 * Plain HTTP requests to one server, for the conformance kit: no client library between the kit
 * and the wire, so what it judges is exactly what the server sent.
 */
export class HttpProbe {
  readonly baseUrl: string;
  readonly #options: HttpProbeOptions;

  constructor(baseUrl: string, options: HttpProbeOptions) {
    this.baseUrl = baseUrl;
    this.#options = options;
  }

  /**
   * Send one request. `body` is sent as is when a string (to send malformed JSON), else as JSON.
   * @throws the network's error (refused, reset, timed out) as fetch raises it
   */
  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ProbeReply> {
    const signals = [AbortSignal.timeout(this.#options.timeoutMs), ...(this.#options.signal === undefined ? [] : [this.#options.signal])];
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(this.#options.token === undefined ? {} : { authorization: `Bearer ${this.#options.token}` }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      signal: AbortSignal.any(signals),
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, text, json };
  }
}

/** A short description of a reply for a failure's detail: its status and the start of its body. */
export function describeReply(reply: ProbeReply): string {
  const body = reply.text.length > 200 ? `${reply.text.slice(0, 200)}…` : reply.text;
  return `${reply.status} ${body}`;
}

/**
 * The error envelope of a reply, or a description of why it is not one.
 * @returns `{ code, message }` of `{"error": {"code", "message", "details"?}}`, or a string saying what came instead
 */
export function errorEnvelope(json: unknown): { code: string; message: string } | string {
  const parsed = ErrorResponse.safeParse(json);
  if (parsed.success) return parsed.data.error;
  return `not the error envelope {"error": {"code", "message"}}: ${JSON.stringify(json)?.slice(0, 200) ?? 'no JSON body'}`;
}
