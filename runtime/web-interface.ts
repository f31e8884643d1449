import { readFileSync } from 'node:fs';
import type Router from '@koa/router';
import type Koa from 'koa';

/** Path of the web interface's page; its assets live under it (`/web/app.js`, `/web/app.css`). */
export const WEB_PATH = '/web';

/** The page's files, next to this module in `web/static/` (copied beside `dist/runtime/` by the build). */
const STATIC_DIR = new URL('./web/static/', import.meta.url);

/** Each served file: its name under {@link STATIC_DIR} and its media type. */
export const WEB_ASSETS: Readonly<Record<string, { file: string; type: string }>> = {
  [WEB_PATH]: { file: 'index.html', type: 'text/html; charset=utf-8' },
  [`${WEB_PATH}/`]: { file: 'index.html', type: 'text/html; charset=utf-8' },
  [`${WEB_PATH}/app.js`]: { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  [`${WEB_PATH}/app.css`]: { file: 'app.css', type: 'text/css; charset=utf-8' },
};

/**
 * The Content-Security-Policy of every web interface response: nothing but this origin's own files,
 * no inline script or style, and WebSockets only back to the same host (`'self'` covers `ws:`/`wss:`
 * of the same host in CSP 3, https://www.w3.org/TR/CSP3/#match-url-to-source-expression).
 */
export const WEB_CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers of the web interface's responses, besides the ones every response carries. */
export const WEB_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Security-Policy': WEB_CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
});

/**
 * Register `GET /web` and its assets on `router`: plain static files, read once here, so a missing
 * file fails at start rather than on the first visit. The page talks to the environment over `/ws`.
 * @throws {Error} (ENOENT) when the static files are missing, e.g. a build that did not copy them
 */
export function registerWebInterface(router: Router): void {
  for (const [path, { file, type }] of Object.entries(WEB_ASSETS)) {
    const content = readFileSync(new URL(file, STATIC_DIR));
    router.get(path, (ctx: Koa.Context) => {
      ctx.set(WEB_HEADERS);
      ctx.type = type;
      ctx.body = content;
    });
  }
}
