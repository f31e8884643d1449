import type { IncomingMessage, ServerResponse } from 'node:http';
import type Router from '@koa/router';
import { SessionNotFoundError } from '../protocol/index.js';
import { bearerCheck, unauthorized } from './bearer-auth.js';
import type { EnvService } from './env-service.js';
import { errorReply } from './error-reply.js';
import { writeReply } from './http-reply.js';
import { readJsonBody } from './json-body.js';
import type { Session } from './session.js';

/** Header naming the session a plain HTTP request acts on. */
export const SESSION_HEADER = 'x-session-id';

/** The OpenEnv operations served per step, each on one route. */
export const OPERATION_ROUTES = Object.freeze({
  reset: { method: 'POST', path: '/reset' },
  step: { method: 'POST', path: '/step' },
  state: { method: 'GET', path: '/state' },
} as const);

/** `reset`, `step` or `state`. */
export type Operation = keyof typeof OPERATION_ROUTES;

/**
 * Serve `operation` for an HTTP request whose bearer token was checked: read its JSON body (reset,
 * step), find its session from `X-Session-Id` (the default session without it) and run the
 * operation through the protocol. The one implementation behind the fast path and Koa's routes.
 * @returns the reply body (200)
 * @throws {EnvboxError} (or anything an environment throws) for {@link errorReply} to answer
 */
export async function serveOperation(service: EnvService, operation: Operation, request: IncomingMessage): Promise<unknown> {
  const { protocol } = service;
  if (operation === 'state') return protocol.state(await sessionFor(service, request.headers[SESSION_HEADER]));
  const payload = await readJsonBody(request, service.config.maxBodyBytes);
  const session = await sessionFor(service, request.headers[SESSION_HEADER]);
  return operation === 'step' ? protocol.step(session, payload) : protocol.reset(session, payload);
}

/**
 * The operations' routes served straight from Node's request listener, without Koa's middleware
 * stack: ~60 µs less per call, a fifth of a coding step over HTTP. It takes the exact paths (with
 * or without a query string) with their method; the bearer check, error replies and headers are
 * the ones Koa's stack gives. Everything else (wrong methods, which Koa answers 405 with `Allow`;
 * `HEAD /state`; other spellings the router matches, such as `/STEP` or `/reset/`) goes to Koa,
 * whose routes ({@link registerOperationRoutes}) serve the same {@link serveOperation}.
 * @returns a listener that answers and returns true for such a request, or returns false
 */
export function createHotRoutes(service: EnvService): (request: IncomingMessage, response: ServerResponse) => boolean {
  const authorized = bearerCheck(service.config.token);
  const byPath = new Map<string, { method: string; operation: Operation }>(Object.entries(OPERATION_ROUTES).map(([operation, { method, path }]) => [path, { method, operation: operation as Operation }]));

  const serve = async (request: IncomingMessage, response: ServerResponse, operation: Operation, path: string): Promise<void> => {
    try {
      if (!authorized(request.headers.authorization)) throw unauthorized(request.headers.authorization);
      writeReply(response, { status: 200, headers: {}, body: await serveOperation(service, operation, request) });
    } catch (thrown) {
      const reply = errorReply(thrown, service, { method: request.method, path });
      if (!response.headersSent) writeReply(response, reply);
    }
  };

  return (request, response) => {
    const { method, url = '' } = request;
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    const route = byPath.get(path);
    if (route === undefined || route.method !== method) return false;
    void serve(request, response, route.operation, path);
    return true;
  };
}

/**
 * Register the operations on Koa's router, for what the fast path leaves to Koa (see
 * {@link createHotRoutes}); Koa's own middleware checks the token and answers errors.
 */
export function registerOperationRoutes(router: Router, service: EnvService): void {
  for (const [operation, { method, path }] of Object.entries(OPERATION_ROUTES) as [Operation, (typeof OPERATION_ROUTES)[Operation]][]) {
    router.register(path, [method], async (ctx) => {
      ctx.body = await serveOperation(service, operation, ctx.req);
    });
  }
}

/**
 * The session a request acts on, from its `X-Session-Id` header: the default session when the
 * header is absent.
 * @throws {SessionNotFoundError} for an empty or unknown id
 */
function sessionFor(service: EnvService, header: string | string[] | undefined): Promise<Session> | Session {
  if (header === undefined) return service.sessions.defaultSession();
  const id = Array.isArray(header) ? header.join(', ') : header;
  if (id === '') {
    throw new SessionNotFoundError('Header X-Session-Id is empty; send the id POST /sessions returned, or omit the header.');
  }
  return service.sessions.get(id);
}
