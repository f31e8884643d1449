import { readFileSync } from 'node:fs';
import t from 'tap';
import { parseServeConfig, WEB_CONTENT_SECURITY_POLICY } from '../../runtime/index.js';
import { request, startTestServer } from '../fixtures/test-server.js';

const STATIC = new URL('../../runtime/web/static/', import.meta.url);

t.test('GET /web is off by default: 404 NOT_FOUND, and so are its assets', async (t) => {
  const server = await startTestServer(t);
  for (const path of ['/web', '/web/app.js', '/web/app.css']) {
    const reply = await request(server, 'GET', path);
    t.equal(reply.status, 404, path);
    t.equal(reply.body.error.code, 'NOT_FOUND', path);
  }
});

t.test('with web on, GET /web is the page, with a strict CSP and nosniff', async (t) => {
  const server = await startTestServer(t, { web: true });
  for (const path of ['/web', '/web/']) {
    const response = await fetch(`${server.url}${path}`);
    t.equal(response.status, 200, path);
    t.equal(response.headers.get('content-type'), 'text/html; charset=utf-8');
    t.equal(response.headers.get('content-security-policy'), WEB_CONTENT_SECURITY_POLICY);
    t.equal(response.headers.get('x-content-type-options'), 'nosniff');
    t.equal(response.headers.get('x-frame-options'), 'DENY');
    const html = await response.text();
    t.equal(html, readFileSync(new URL('index.html', STATIC), 'utf8'));
    t.match(html, /<script type="module" src="\/web\/app.js"><\/script>/);
    t.notMatch(html, /<script>|<script(?![^>]*src=)[^>]*>|\son\w+=|style=/, 'no inline script, handler or style');
  }
  const csp = WEB_CONTENT_SECURITY_POLICY;
  t.match(csp, /default-src 'self'/);
  t.match(csp, /script-src 'self'(;|$)/, 'no unsafe-inline, no eval');
  t.match(csp, /connect-src 'self'/);
  t.notMatch(csp, /unsafe|https?:|\*/, 'nothing from elsewhere');
});

t.test('with web on, the assets are served with their content types; the page fetches nothing external', async (t) => {
  const server = await startTestServer(t, { web: true });
  const assets: Record<string, [string, string]> = { '/web/app.js': ['app.js', 'text/javascript; charset=utf-8'], '/web/app.css': ['app.css', 'text/css; charset=utf-8'] };
  for (const [path, [file, type]] of Object.entries(assets)) {
    const response = await fetch(`${server.url}${path}`);
    t.equal(response.status, 200, path);
    t.equal(response.headers.get('content-type'), type, path);
    t.equal(response.headers.get('x-content-type-options'), 'nosniff', path);
    const text = await response.text();
    t.equal(text, readFileSync(new URL(file, STATIC), 'utf8'), path);
    t.notMatch(text, /https?:\/\//, `${path} names no external URL`);
  }
  t.notMatch(readFileSync(new URL('app.js', STATIC), 'utf8'), /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/, 'untrusted text never becomes HTML');
  t.equal((await request(server, 'GET', '/web/nope.js')).status, 404);
  t.equal((await request(server, 'POST', '/web')).status, 405);
  // The protocol routes are unchanged.
  t.equal((await request(server, 'GET', '/health')).status, 200);
});

t.test('--web, ENVBOX_WEB and ENABLE_WEB_INTERFACE turn it on; off by default', async (t) => {
  t.equal(parseServeConfig({ env: 'echo_env' }, {}).web, false);
  t.equal(parseServeConfig({ env: 'echo_env', web: true }, {}).web, true, '--web');
  t.equal(parseServeConfig({ env: 'echo_env' }, { ENVBOX_WEB: 'true' }).web, true, 'ENVBOX_WEB');
  t.equal(parseServeConfig({ env: 'echo_env' }, { ENABLE_WEB_INTERFACE: 'true' }).web, true, 'ENABLE_WEB_INTERFACE');
  t.equal(parseServeConfig({ env: 'echo_env' }, { ENVBOX_WEB: 'false', ENABLE_WEB_INTERFACE: 'true' }).web, false, 'ENVBOX_WEB wins');
  t.throws(() => parseServeConfig({ env: 'echo_env' }, { ENABLE_WEB_INTERFACE: 'maybe' }), {
    message: 'invalid ENABLE_WEB_INTERFACE: expected true or false, received "maybe"',
  });
});
