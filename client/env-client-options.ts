import type { HttpSession } from './http-transport.js';
import type { Container } from './provider/index.js';

/** Options of an `EnvClient`. */
export interface EnvClientOptions {
  /** The server, e.g. `http://127.0.0.1:8000`. */
  baseUrl: string;
  /** `http` (keep-alive; default) or `ws` (one WebSocket, one session). */
  transport?: 'http' | 'ws';
  /** HTTP only: which session to act on. @default 'new' (a session of its own) */
  session?: HttpSession;
  /** Extra headers on every request and on the WebSocket upgrade. */
  headers?: Readonly<Record<string, string>>;
  /**
   * The server's bearer token (its `--token` / `ENVBOX_TOKEN`), sent as `Authorization: Bearer
   * <token>` on every request and on the WebSocket upgrade; a wrong or missing one makes calls
   * throw `UnauthorizedError`. @default none
   */
  token?: string;
  /** Per-call timeout. @default 60 s */
  timeoutMs?: number;
  /**
   * The container the server runs in, of any provider, owned by the client: `close()` closes it
   * after the session, and a transport failure while it no longer runs becomes `ContainerGoneError`.
   */
  container?: Container;
}

/** How a client launched in a container talks to it: its options but for what the container gives. */
export type FromProviderOptions = Omit<EnvClientOptions, 'baseUrl' | 'container' | 'token'>;
