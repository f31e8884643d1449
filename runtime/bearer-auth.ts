import { createHash, timingSafeEqual } from 'node:crypto';
import type Koa from 'koa';
import { UnauthorizedError } from '../protocol/index.js';

/** The `WWW-Authenticate` challenge of every 401 (RFC 6750). */
export const BEARER_CHALLENGE = 'Bearer realm="envbox"';

/** The one route answered without a token: liveness only (`{"status": "healthy"}`), no env facts. */
export const HEALTH_PATH = '/health';

/** The body of `GET /health` to a request without a valid token. */
export const LIVENESS_BODY: Readonly<{ status: 'healthy' }> = Object.freeze({ status: 'healthy' });

/** Whether an `Authorization` header carries the server's token. */
export type TokenCheck = (authorization: string | string[] | undefined) => boolean;

/**
 * The check of `Authorization: Bearer <token>` against `token`; every request passes when
 * `token` is undefined (auth off). Tokens are compared in constant time over SHA-256 digests, so
 * neither their content nor their length leaks through timing.
 */
export function bearerCheck(token: string | undefined): TokenCheck {
  if (token === undefined) return () => true;
  const expected = digest(token);
  return (authorization) => {
    if (typeof authorization !== 'string') return false;
    const match = /^Bearer +(\S+) *$/i.exec(authorization);
    // Digest even a malformed header, so the time spent does not tell the two cases apart.
    return timingSafeEqual(digest(match?.[1] ?? ''), expected) && match !== null;
  };
}

/** The error of a request without a valid token; its message never includes any token. */
export function unauthorized(authorization: string | string[] | undefined): UnauthorizedError {
  const had = authorization === undefined ? 'the request has no Authorization header' : 'the request\'s Authorization header is not the right bearer token';
  return new UnauthorizedError(
    `This server requires a bearer token and ${had}; send "Authorization: Bearer <token>" with the server's --token / ENVBOX_TOKEN (EnvClient option token).`,
  );
}

/**
 * Koa middleware requiring the bearer `token` on every route but `GET /health`, which without a
 * valid token answers {@link LIVENESS_BODY} only. Register it after the error middleware, which
 * turns the {@link UnauthorizedError} into the envelope with `WWW-Authenticate`.
 */
export function bearerAuthMiddleware(token: string): Koa.Middleware {
  const authorized = bearerCheck(token);
  return async (ctx, next) => {
    const authorization = ctx.req.headers.authorization;
    if (authorized(authorization)) return next();
    if ((ctx.method === 'GET' || ctx.method === 'HEAD') && ctx.path === HEALTH_PATH) {
      ctx.body = { ...LIVENESS_BODY };
      return undefined;
    }
    throw unauthorized(authorization);
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
