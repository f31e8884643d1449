import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { AnyEnvDefinition } from '../../protocol/index.js';
import { AppConfig, type AppConfigInput } from '../config.js';
import { EnvService } from '../env-service.js';
import type { Logger } from '../logger.js';
import type { Session } from '../session.js';
import { mcpServiceOf } from './mcp-service.js';

/** Where {@link startStdioMcp} reads and writes. */
export interface StdioMcpOptions {
  /** Requests come in here (newline-delimited JSON-RPC). @default process.stdin */
  stdin?: NodeJS.ReadableStream;
  /** Only protocol goes out here. @default process.stdout */
  stdout?: NodeJS.WritableStream;
  /** Logs (JSON lines on stderr by default; never on stdout). */
  logger: Logger;
}

/**
 * `envbox mcp`: one environment served over MCP on stdio, for a local agent. The same runtime as
 * `envbox serve` in-process (sessions, sandboxes, limits), without HTTP: one envbox session holds
 * the agent's episode (opened at the first tool call, opened again if it was closed for
 * idleness). {@link StdioMcp.closed} resolves when stdin ends or {@link StdioMcp.close} is called.
 */
export class StdioMcp {
  readonly service: EnvService;
  readonly #transport: StdioServerTransport;
  readonly #closed: Promise<void>;
  #closing: Promise<void> | undefined;
  #resolveClosed!: () => void;

  constructor(service: EnvService, transport: StdioServerTransport) {
    this.service = service;
    this.#transport = transport;
    this.#closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  /** Settles once the server has closed (stdin ended, the transport closed, or `close()`). */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /** Close the transport, then the service (sessions, then the definition). Idempotent. */
  close(): Promise<void> {
    // Set before the transport closes: its close calls back here (onclose), and must get this promise.
    this.#closing ??= Promise.resolve().then(async () => {
      try {
        await this.#transport.close();
      } finally {
        await this.service.close();
        this.#resolveClosed();
      }
    });
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Serve `definition` over MCP on stdio until stdin ends. */
export async function startStdioMcp(definition: AnyEnvDefinition, config: AppConfigInput, options: StdioMcpOptions): Promise<StdioMcp> {
  const service = new EnvService(definition, AppConfig.parse(config), options.logger);
  const stdin = options.stdin ?? process.stdin;
  const transport = new StdioServerTransport(stdin as NodeJS.ReadStream & typeof process.stdin, (options.stdout ?? process.stdout) as NodeJS.WriteStream & typeof process.stdout);
  const stdio = new StdioMcp(service, transport);
  let current: Session | undefined;
  const session = async (): Promise<Session> => {
    if (current === undefined || current.closeReason !== undefined) current = await service.sessions.create('mcp');
    return current;
  };
  const server = mcpServiceOf(service).createServer(session);
  transport.onclose = () => void stdio.close();
  stdin.once('end', () => void stdio.close());
  await server.connect(transport);
  return stdio;
}
