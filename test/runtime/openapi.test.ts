import t from 'tap';
import { createCodingEnvDefinition } from '../../envs/coding_env/index.js';
import { OPENENV_HTTP_API_VERSION } from '../../runtime/index.js';
import { request, startTestServer } from '../fixtures/test-server.js';

/** Every route the server answers (method and path as OpenAPI writes it), without --web. */
const ROUTES = [
  ['post', '/reset'],
  ['post', '/step'],
  ['get', '/state'],
  ['get', '/health'],
  ['get', '/metadata'],
  ['get', '/schema'],
  ['get', '/openapi.json'],
  ['get', '/metrics'],
  ['post', '/sessions'],
  ['delete', '/sessions/{id}'],
  ['get', '/ws'],
  ['post', '/mcp'],
  ['get', '/mcp'],
  ['delete', '/mcp'],
] as const;
const WEB_ROUTES = ['/web', '/web/', '/web/app.js', '/web/app.css'];

interface Document {
  openapi: string;
  info: { title: string; version: string; 'x-envbox-version': string; 'x-env-version': string };
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: any }> }> }>>;
  security?: unknown;
  components?: { securitySchemes?: unknown };
}

t.test('GET /openapi.json: OpenAPI 3.1 with info.title, info.version and exactly the routes served', async (t) => {
  const server = await startTestServer(t);
  const { status, headers, body } = await request(server, 'GET', '/openapi.json');
  t.equal(status, 200);
  t.equal(headers.get('content-type'), 'application/json; charset=utf-8');
  const document = body as Document;
  t.equal(document.openapi, '3.1.0');
  t.equal(document.info.title, 'envbox: echo_env');
  t.equal(document.info.version, OPENENV_HTTP_API_VERSION, "the OpenEnv HTTP API version, which openenv validate reads as its 1.x profile");
  t.match(document.info.version, /^1\./);
  t.equal(document.info['x-env-version'], server.app.definition.version);
  t.type(document.info['x-envbox-version'], 'string');
  const listed = Object.entries(document.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method} ${path}`));
  t.same(listed.sort(), ROUTES.map(([method, path]) => `${method} ${path}`).sort(), 'every route, and nothing else');
  t.notOk(WEB_ROUTES.some((path) => path in document.paths), 'no /web without --web');
  t.equal(document.security, undefined, 'no security requirement without --token');
  // Mode consistency as openenv validate checks it: reset, step and state over HTTP = simulation.
  t.ok('/reset' in document.paths && '/step' in document.paths && '/state' in document.paths, 'a simulation server lists /reset, /step and /state');
});

t.test('each listed route is answered (never 404), and an unlisted one is not', async (t) => {
  const server = await startTestServer(t);
  const document = (await request(server, 'GET', '/openapi.json')).body as Document;
  const { session_id: id } = (await request(server, 'POST', '/sessions')).body as { session_id: string };
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of Object.keys(item)) {
      const concrete = path.replace('{id}', id);
      const body = method === 'post' ? (path === '/step' ? { action: { message: 'hi' } } : {}) : undefined;
      const answer = await fetch(`${server.url}${concrete}`, { method: method.toUpperCase(), ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      await answer.arrayBuffer();
      t.not(answer.status, 404, `${method.toUpperCase()} ${path} is served (${answer.status})`);
      const documented = Object.keys(item[method]!.responses);
      t.ok(documented.includes(String(answer.status)), `${method.toUpperCase()} ${path}: its status ${answer.status} is documented (${documented.join(', ')})`);
    }
  }
  t.equal((await request(server, 'GET', '/no-such-route')).status, 404);
});

t.test('the schemas are the zod models: the step reply of coding_env is OpenEnv-shaped, extras in metadata', async (t) => {
  const definition = await createCodingEnvDefinition({ pythonBackend: 'process', poolSize: 1 });
  const server = await startTestServer(t, {}, definition);
  const document = (await request(server, 'GET', '/openapi.json')).body as Document;
  const reply = document.paths['/step']!.post!.responses['200']!.content!['application/json']!.schema;
  t.same(Object.keys(reply.properties).sort(), ['done', 'metadata', 'observation', 'reward']);
  const observation = reply.properties.observation;
  t.same(Object.keys(observation.properties).sort(), ['exit_code', 'metadata', 'stderr', 'stdout'], "exactly OpenEnv's CodeObservation fields");
  t.equal(observation.additionalProperties, false);
  t.ok('result' in observation.properties.metadata.properties, "envbox's result is in metadata");
  const body = document.paths['/step']!.post as unknown as { requestBody: { content: Record<string, { schema: any }> } };
  t.same(body.requestBody.content['application/json']!.schema.properties.action.required, ['code'], 'the step body carries the action schema');
  const state = document.paths['/state']!.get!.responses['200']!.content!['application/json']!.schema;
  t.ok('last_exit_code' in state.properties && 'language' in state.properties, 'the state schema');
});

t.test('with --web the web routes are listed; with --token the document needs it and says so', async (t) => {
  const web = await startTestServer(t, { web: true });
  const withWeb = (await request(web, 'GET', '/openapi.json')).body as Document;
  for (const path of WEB_ROUTES) t.ok(path in withWeb.paths, `${path} is listed with --web`);
  const tokened = await startTestServer(t, { token: 'x'.repeat(32) });
  t.equal((await request(tokened, 'GET', '/openapi.json')).status, 401, 'behind the token');
  const document = (await request(tokened, 'GET', '/openapi.json', undefined, { authorization: `Bearer ${'x'.repeat(32)}` })).body as Document;
  t.same(document.security, [{ bearer: [] }]);
  t.match(document.components?.securitySchemes, { bearer: { type: 'http', scheme: 'bearer' } });
});
