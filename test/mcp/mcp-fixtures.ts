import WebSocket from 'ws';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Test } from 'tap';
import type { EnvboxServer } from '../../runtime/index.js';

/** The SDK's own client over Streamable HTTP to `server`'s `/mcp`, closed when the test ends. */
export async function httpClient(t: Test, server: EnvboxServer, headers: Record<string, string> = {}): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: 'envbox-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { requestInit: { headers } });
  await client.connect(transport);
  t.teardown(() => client.close());
  return { client, transport };
}

/** `run_code`'s structured content. */
export interface RunCode {
  stdout: string;
  stderr: string;
  exit_code: number;
  result: string | null;
  language: string;
  state_lost: boolean;
}

/** Call `run_code` and return its result with the structured content typed. */
export async function runCode(client: Client, args: Record<string, unknown>): Promise<CallToolResult & { structuredContent: RunCode }> {
  return (await client.callTool({ name: 'run_code', arguments: args })) as CallToolResult & { structuredContent: RunCode };
}

/** The text of a tool result's single text content. */
export function textOf(result: CallToolResult): string {
  const [content] = result.content;
  if (content?.type !== 'text') throw new Error(`expected one text content, got ${JSON.stringify(result.content)}`);
  return content.text;
}

/** A JSON-RPC POST to `/mcp` as OpenEnv's clients send it (no initialize, any media type accepted); status and parsed body. */
export async function rpc(server: EnvboxServer, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: any }> {
  const response = await fetch(`${server.url}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: '*/*', ...headers },
    body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? undefined : JSON.parse(text) };
}

/** What `promise` rejected with. @throws {Error} when it fulfilled */
export async function rejection(promise: Promise<unknown>): Promise<any> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error,
  );
}

/** A WebSocket peer whose messages are read in order with {@link WsPeer.next}; closed when the test ends. */
export class WsPeer {
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly #received: unknown[] = [];
  readonly #waiting: ((message: unknown) => void)[] = [];

  constructor(t: Test, server: EnvboxServer, path: string, headers: Record<string, string> = {}) {
    this.ws = new WebSocket(`${server.url.replace('http', 'ws')}${path}`, { headers });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
      this.ws.once('unexpected-response', (_request, response) => reject(new Error(`upgrade refused: ${response.statusCode}`)));
    });
    this.opened.catch(() => undefined);
    this.closed = new Promise((resolve) => this.ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
    this.ws.on('error', () => undefined);
    this.ws.on('message', (data: Buffer) => {
      const message: unknown = JSON.parse(data.toString('utf8'));
      const waiter = this.#waiting.shift();
      if (waiter === undefined) this.#received.push(message);
      else waiter(message);
    });
    t.teardown(() => this.ws.close());
  }

  /** Send `message` (JSON unless a string) and return the next message received. */
  async call(message: unknown): Promise<any> {
    await this.opened;
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
    return this.next();
  }

  /** The next message received. */
  next(): Promise<any> {
    const queued = this.#received.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }
}
