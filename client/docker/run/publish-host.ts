import { isIP } from 'node:net';
import type { DockerEngine } from './docker-connection.js';

/**
 * Where a container's published port is reached: on the engine's own machine. For a local engine
 * (a unix socket, or a loopback `tcp://` address) that is 127.0.0.1, and ports are published on
 * 127.0.0.1 only. For a remote engine (`DOCKER_HOST=tcp://10.0.0.5:2376`, `ssh://user@gpu-host`)
 * it is the engine's host: ports are then published on every interface of that host, so every
 * container gets a token, always.
 */
export interface PublishTarget {
  /** The address clients connect to, e.g. `127.0.0.1` or `10.0.0.5`. */
  host: string;
  /** The host interface the port is bound to: `127.0.0.1`, or `0.0.0.0` on a remote engine. */
  bindIp: string;
  /** Whether the port is reachable from other machines (a token is then required). */
  exposed: boolean;
}

interface ModemFacts {
  host?: unknown;
  protocol?: unknown;
  socketPath?: unknown;
}

/** Whether `host` names this machine's loopback. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  return bare === 'localhost' || bare === '::1' || (isIP(bare) === 4 && bare.startsWith('127.'));
}

/**
 * The publish target of `engine`, or of `publishHost` when given.
 * @param publishHost the address clients reach the engine's machine on (overrides what the engine's address says)
 */
export function publishTarget(engine: DockerEngine, publishHost?: string): PublishTarget {
  const modem = engine.modem as ModemFacts;
  const host = publishHost ?? (typeof modem.host === 'string' && modem.host !== '' ? modem.host : '127.0.0.1');
  if (isLoopback(host)) return { host: '127.0.0.1', bindIp: '127.0.0.1', exposed: false };
  return { host, bindIp: '0.0.0.0', exposed: true };
}

/** `http://<host>:<port>`, IPv6 hosts in brackets. */
export function publishedUrl(host: string, port: number): string {
  return `http://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}
