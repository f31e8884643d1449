import { EnvboxError, type EnvboxErrorOptions } from '../../protocol/index.js';

/**
 * The errors of a container start, whichever provider started it. Like `TransportError` they are
 * client-side only (status 0).
 */

/** The facts a container failure carries: which container, and what it printed last. */
export interface ContainerFailureOptions extends EnvboxErrorOptions {
  /** The container's id, when it was created. */
  containerId?: string;
  /** The container's last log lines (stdout and stderr, interleaved), possibly empty. */
  logs?: string;
}

/** `CONTAINER_START`: the container could not be created or started, or it exited before it was healthy. */
export class ContainerStartError extends EnvboxError {
  /** The container's id, when it got as far as being created. */
  readonly containerId: string | undefined;
  /** The container's last log lines; empty when it never ran. */
  readonly logs: string;

  constructor(message: string, options: ContainerFailureOptions = {}) {
    super('CONTAINER_START', 0, message, options);
    this.containerId = options.containerId;
    this.logs = options.logs ?? '';
  }
}

/** `HEALTH_TIMEOUT`: the container ran, but `GET /health` did not answer healthy before the deadline. */
export class HealthTimeoutError extends EnvboxError {
  /** The container's id. */
  readonly containerId: string | undefined;
  /** The container's last log lines. */
  readonly logs: string;
  /** The deadline that passed, in milliseconds. */
  readonly timeoutMs: number;

  constructor(message: string, options: ContainerFailureOptions & { timeoutMs: number }) {
    super('HEALTH_TIMEOUT', 0, message, options);
    this.containerId = options.containerId;
    this.logs = options.logs ?? '';
    this.timeoutMs = options.timeoutMs;
  }
}

/** `message` ended by the container's last log lines, or by "it printed nothing". */
export function withLogs(message: string, logs: string): string {
  const trimmed = message.replace(/[.;]\s*$/, '');
  return logs === '' ? `${trimmed}; it printed nothing.` : `${trimmed}. Its last log lines:\n${logs}`;
}
