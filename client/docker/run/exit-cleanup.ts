import { spawnSync } from 'node:child_process';
import type { EngineAddress } from './docker-connection.js';

/**
 * Containers are removed when the process that started them ends, however it ends: on SIGINT or
 * SIGTERM, and on `exit` (also after `process.exit()` or an uncaught exception), every live
 * container is removed synchronously, in a child process. Only SIGKILL escapes: `cleanup()`
 * removes those leftovers by label. The `exit` handler is installed once, on the first container.
 *
 * The signal handlers must not change what the signal does. A listener for SIGINT or SIGTERM
 * cancels Node's default action (ending the process), and libraries such as signal-exit (tap,
 * many CLIs) re-raise a signal only when their own listeners are the only ones left: a listener
 * that waited for the others would wait forever. So ours runs first (prepended), removes the
 * containers without yielding, takes itself off both signals, and re-raises the signal only when
 * no other listener is left; every other listener still runs in the same dispatch and sees the
 * process as if ours had never been there. It is installed again with the next container.
 */

/** How long a removal may block the process (each signal or `exit`). @default 10 s */
export const EXIT_CLEANUP_TIMEOUT_MS = 10_000;

/** A live container (or Swarm service) as the exit handlers know it. */
export interface TrackedContainer {
  readonly id: string;
  /** How a child process reaches its engine. */
  readonly address: EngineAddress;
  /** What the id names: a container (`DELETE /containers/<id>`) or a Swarm service (`DELETE /services/<id>`). @default 'container' */
  readonly kind?: 'container' | 'service';
}

const live = new Map<string, TrackedContainer>();
let exitInstalled = false;
let signalsInstalled = false;

/** Remove `container` when this process ends, unless {@link untrackContainer} is called first. */
export function trackContainer(container: TrackedContainer): void {
  live.set(container.id, container);
  if (!exitInstalled) {
    exitInstalled = true;
    process.on('exit', removeAllSync);
  }
  if (!signalsInstalled) {
    signalsInstalled = true;
    process.prependListener('SIGINT', onSignal);
    process.prependListener('SIGTERM', onSignal);
  }
}

/** The container is gone (or its owner removes it now): forget it. */
export function untrackContainer(id: string): void {
  live.delete(id);
}

/** The ids of the containers this process would remove on exit. */
export function trackedContainerIds(): string[] {
  return [...live.keys()];
}

function onSignal(signal: NodeJS.Signals): void {
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
  signalsInstalled = false;
  removeAllSync();
  // Nobody else handles it: the signal's default action, ending the process.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

/** Remove every tracked container, blocking: only a child process can do I/O inside `exit`. */
function removeAllSync(): void {
  if (live.size === 0) return;
  const byAddress = new Map<string, { address: EngineAddress; kind: 'container' | 'service'; ids: string[] }>();
  for (const container of live.values()) {
    const kind = container.kind ?? 'container';
    const key = JSON.stringify([container.address, kind]);
    const group = byAddress.get(key) ?? { address: container.address, kind, ids: [] };
    group.ids.push(container.id);
    byAddress.set(key, group);
  }
  live.clear();
  for (const { address, kind, ids } of byAddress.values()) removeSync(address, ids, kind);
}

/**
 * `DELETE /containers/<id>?force=true` (or `DELETE /services/<id>`) for each id, from a child Node
 * process over the engine's socket (no docker CLI needed); for TLS or SSH engines, `docker rm -f`
 * (`docker service rm`) as the last resort. A removed service's task is stopped by its node after
 * this process is gone.
 */
export function removeSync(address: EngineAddress, ids: readonly string[], kind: 'container' | 'service' = 'container'): void {
  if (address.kind === 'cli') {
    const args = kind === 'service' ? ['service', 'rm', ...ids] : ['rm', '--force', '--volumes', ...ids];
    spawnSync('docker', args, { stdio: 'ignore', timeout: EXIT_CLEANUP_TIMEOUT_MS });
    return;
  }
  const target = address.kind === 'socket' ? { socketPath: address.socketPath } : { host: address.host, port: address.port };
  const paths = ids.map((id) => (kind === 'service' ? `/services/${encodeURIComponent(id)}` : `/containers/${encodeURIComponent(id)}?force=true&v=true`));
  spawnSync(process.execPath, ['-e', REMOVE_SCRIPT, JSON.stringify({ target, paths })], {
    stdio: 'ignore',
    timeout: EXIT_CLEANUP_TIMEOUT_MS,
    env: {},
  });
}

/** The child's program: one DELETE per path, in parallel; exits when all have answered or failed. */
const REMOVE_SCRIPT = `
const http = require('node:http');
const { target, paths } = JSON.parse(process.argv[1]);
let pending = paths.length;
const done = () => { if (--pending === 0) process.exit(0); };
for (const path of paths) {
  const request = http.request({ ...target, method: 'DELETE', path }, (response) => {
    response.resume();
    response.on('end', done);
  });
  request.setTimeout(${EXIT_CLEANUP_TIMEOUT_MS}, () => request.destroy());
  request.on('error', done);
  request.end();
}
`;
