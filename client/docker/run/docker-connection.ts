import type Dockerode from 'dockerode';

/** A dockerode client: how envbox talks to a Docker engine. */
export type DockerEngine = Dockerode;

/** How a process other than this one reaches the same engine (for removal on exit). */
export type EngineAddress =
  | { kind: 'socket'; socketPath: string }
  | { kind: 'http'; host: string; port: number }
  /**
   * TLS or SSH: only the `docker` CLI, configured by the environment, can reach it.
   * `endpoint` says where, for messages (`tcp://10.0.0.5:2376 (TLS)`, `ssh://me@gpu-host`).
   */
  | { kind: 'cli'; endpoint?: string };

/**
 * A dockerode client for the engine the environment names (`DOCKER_HOST`, else the local
 * socket), or `engine` when given. dockerode is loaded on first use: it costs ~100 ms to load,
 * and the server (which imports the client for its typed classes) never needs it.
 */
export async function connectDocker(engine?: DockerEngine): Promise<DockerEngine> {
  if (engine !== undefined) return engine;
  const { default: Docker } = await import('dockerode');
  return new Docker();
}

/** Where `engine` connects, e.g. `unix:///var/run/docker.sock`, for messages. */
export function describeEngineAddress(address: EngineAddress): string {
  if (address.kind === 'socket') return `unix://${address.socketPath}`;
  if (address.kind === 'http') return `tcp://${address.host}:${address.port}`;
  return address.endpoint ?? process.env.DOCKER_HOST ?? 'DOCKER_HOST';
}

interface ModemInternals {
  host?: unknown;
  port?: unknown;
  protocol?: unknown;
  username?: unknown;
  getSocketPath?: () => Promise<unknown> | undefined;
}

/** How another process reaches the engine `engine` talks to. */
export async function engineAddress(engine: DockerEngine): Promise<EngineAddress> {
  const modem = engine.modem as ModemInternals;
  // docker-modem keeps the default socket as a function that probes ~/.docker/run first.
  const socketPath = await modem.getSocketPath?.call(modem);
  if (typeof socketPath === 'string' && socketPath !== '') return { kind: 'socket', socketPath };
  if (typeof modem.host === 'string' && (modem.protocol === undefined || modem.protocol === 'http')) {
    return { kind: 'http', host: modem.host, port: Number(modem.port ?? 2375) };
  }
  if (typeof modem.host === 'string' && modem.protocol === 'https') return { kind: 'cli', endpoint: `tcp://${modem.host}:${Number(modem.port ?? 2376)} (TLS)` };
  if (typeof modem.host === 'string' && modem.protocol === 'ssh') {
    return { kind: 'cli', endpoint: `ssh://${typeof modem.username === 'string' ? `${modem.username}@` : ''}${modem.host}${modem.port === undefined ? '' : `:${String(modem.port)}`}` };
  }
  return { kind: 'cli' };
}
