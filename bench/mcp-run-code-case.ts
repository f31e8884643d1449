import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { join } from 'node:path';
import { CodingEnv } from '../index.js';
import type { BenchCase, BenchCaseContext, BenchCaseResult } from './bench-case.js';
import { BenchError } from './bench-error.js';
import { measureLatency, warmUp, type LatencyResult } from './measure.js';
import { findPackageRoot } from './package-root.js';
import { formatMs as ms } from './report.js';

/** The step every path runs: the smallest useful one. */
export const MCP_CASE_CODE = 'print(1)';

/** Options of {@link mcpRunCodeCase}. */
export interface McpRunCodeCaseOptions {
  /** Arguments of `envbox mcp` for the stdio path (the environment and its options, as the served one's). */
  stdioArgs: readonly string[];
  /** Timed calls per path in a full run (and as many untimed warm-up calls first). */
  calls: number;
  /** Timed calls per path in a `--quick` run. */
  quickCalls: number;
}

/**
 * MCP's `tools/call run_code print(1)` against a plain `POST /step` of the same code, in one run:
 * the typed client's `/step` (HTTP keep-alive), the SDK client over Streamable HTTP to the server
 * under test (its default SSE answers), OpenEnv's plain JSON-RPC `tools/call` with a `session_id`,
 * and the SDK client over stdio to an `envbox mcp` child with the same environment options.
 * Each path warms up with as many calls as it times; the paths run one after another.
 */
export function mcpRunCodeCase(options: McpRunCodeCaseOptions): BenchCase {
  return { name: 'mcp run_code', run: (context) => runCase(options, context) };
}

async function runCase(options: McpRunCodeCaseOptions, context: BenchCaseContext): Promise<BenchCaseResult> {
  const calls = context.quick ? options.quickCalls : options.calls;
  const time = async (what: string, call: () => Promise<unknown>): Promise<LatencyResult> => {
    context.progress(`mcp run_code: ${calls} warm-up and ${calls} timed calls, ${what}`);
    await warmUp(call, calls);
    await context.settle();
    const result = await measureLatency(call, calls);
    if (result.latency === undefined) throw new BenchError(`mcp run_code: every call ${what} failed: ${JSON.stringify(result.errors)}`);
    return result;
  };

  const step = new CodingEnv({ baseUrl: context.baseUrl, transport: 'http' });
  let plain: LatencyResult;
  try {
    await step.reset();
    plain = await time('POST /step', async () => expectOne((await step.step({ code: MCP_CASE_CODE })).observation.stdout));
  } finally {
    await step.close();
  }

  const http = new Client({ name: 'envbox-bench', version: '1.0.0' });
  let streamable: LatencyResult;
  try {
    await http.connect(new StreamableHTTPClientTransport(new URL('/mcp', context.baseUrl)));
    streamable = await time('tools/call over Streamable HTTP', () => callRunCode(http));
  } finally {
    await http.close();
  }

  // The same client asking for JSON answers only (its fetch rewrites Accept): SSE framing's share of the cost.
  const jsonClient = new Client({ name: 'envbox-bench', version: '1.0.0' });
  let streamableJson: LatencyResult;
  try {
    await jsonClient.connect(new StreamableHTTPClientTransport(new URL('/mcp', context.baseUrl), { fetch: acceptJsonOnly }));
    streamableJson = await time('tools/call over Streamable HTTP, JSON answers', () => callRunCode(jsonClient));
  } finally {
    await jsonClient.close();
  }

  const rpcUrl = new URL('/mcp', context.baseUrl);
  const post = async (body: unknown): Promise<{ result?: { session_id?: string; data?: unknown; structured_content?: { stdout?: string } }; error?: unknown }> => {
    const response = await fetch(rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return (await response.json()) as never;
  };
  const created = await post({ jsonrpc: '2.0', method: 'openenv/session/create', params: {}, id: 0 });
  const sessionId = created.result?.session_id;
  if (sessionId === undefined) throw new BenchError(`openenv/session/create failed: ${JSON.stringify(created)}`);
  let openEnv: LatencyResult;
  try {
    let id = 0;
    openEnv = await time('OpenEnv JSON-RPC tools/call over HTTP', async () => {
      const reply = await post({ jsonrpc: '2.0', method: 'tools/call', params: { name: 'run_code', arguments: { code: MCP_CASE_CODE }, session_id: sessionId }, id: ++id });
      expectOne(reply.result?.structured_content?.stdout);
    });
  } finally {
    await post({ jsonrpc: '2.0', method: 'openenv/session/close', params: { session_id: sessionId }, id: -1 });
  }

  const stdio = new Client({ name: 'envbox-bench', version: '1.0.0' });
  let overStdio: LatencyResult;
  try {
    const cli = join(findPackageRoot(), 'dist', 'cli.js');
    await stdio.connect(new StdioClientTransport({ command: process.execPath, args: [cli, 'mcp', ...options.stdioArgs, '--log-level', 'warn'], stderr: 'inherit' }));
    overStdio = await time('tools/call over stdio (envbox mcp)', () => callRunCode(stdio));
  } finally {
    await stdio.close();
  }

  const p50 = (result: LatencyResult) => result.latency!.p50Ms;
  const line = (via: string, metric: string, result: LatencyResult, what: string) => ({
    via,
    metric,
    result: `p50 ${ms(p50(result))} ms`,
    detail: `${what}; p99 ${ms(result.latency!.p99Ms)} ms, ${p50(result) / p50(plain) >= 1 ? `${(p50(result) / p50(plain)).toFixed(2)}x` : 'below'} the plain /step p50`,
  });
  return {
    name: 'mcp run_code',
    metrics: [
      { via: 'http', metric: 'mcp: plain /step print(1)', result: `p50 ${ms(p50(plain))} ms`, detail: `the typed client's POST /step, ${calls} calls; p99 ${ms(plain.latency!.p99Ms)} ms` },
      line('http', 'mcp: tools/call, Streamable HTTP', streamable, `the SDK client, SSE answers, ${calls} calls`),
      line('http', 'mcp: tools/call, Streamable HTTP JSON', streamableJson, `the SDK client accepting only JSON answers, ${calls} calls`),
      line('http', 'mcp: tools/call, OpenEnv JSON-RPC', openEnv, `POST /mcp with session_id, ${calls} calls`),
      line('stdio', 'mcp: tools/call, stdio', overStdio, `the SDK client to an envbox mcp child, ${calls} calls`),
    ],
    checks: [],
    data: { code: MCP_CASE_CODE, calls, plainStep: plain, streamableHttp: streamable, streamableHttpJson: streamableJson, openEnvJsonRpc: openEnv, stdio: overStdio },
  };
}

/** `fetch` whose POSTs accept only JSON, so the server answers them with JSON rather than SSE. */
function acceptJsonOnly(url: string | URL, init?: RequestInit): Promise<Response> {
  if (init?.method !== 'POST') return fetch(url, init);
  const headers = new Headers(init.headers);
  headers.set('accept', 'application/json');
  return fetch(url, { ...init, headers });
}

async function callRunCode(client: Client): Promise<void> {
  const result = (await client.callTool({ name: 'run_code', arguments: { code: MCP_CASE_CODE } })) as CallToolResult;
  expectOne((result.structuredContent as { stdout?: unknown } | undefined)?.stdout);
}

function expectOne(stdout: unknown): void {
  if (stdout !== '1\n') throw new BenchError(`run_code print(1) printed ${JSON.stringify(stdout)}, not "1\\n"`);
}
