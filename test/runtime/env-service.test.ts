import t from 'tap';
import { AppConfig, createApp, createLogger, EnvService } from '../../runtime/index.js';
import { ProbeRegistry } from '../fixtures/probe-env.js';
import { startTestServer } from '../fixtures/test-server.js';

t.test('close is idempotent: the sessions, then the definition, once; also through Symbol.asyncDispose', async (t) => {
  const registry = new ProbeRegistry();
  const order: string[] = [];
  const definition = {
    ...registry.definition(),
    close: () => {
      order.push('definition');
    },
  };
  const service = new EnvService(definition, AppConfig.parse({ logLevel: 'silent' }), createLogger('silent'));
  const session = await service.sessions.create('http');
  service.sessions.on('session-closed', () => order.push('session'));
  const first = service.close();
  t.equal(service.close(), first, 'a second close gets the first one\'s promise');
  await service[Symbol.asyncDispose]();
  t.same(order, ['session', 'definition'], 'children first, each once');
  t.equal(registry.closed, 1, 'the environment instance was closed');
  t.equal(session.closeReason, 'shutdown');
  await t.rejects(service.sessions.create('http'), { code: 'CAPACITY_EXCEEDED' }, 'a closed service opens no session');
});

t.test('EnvboxApp and EnvboxServer reach the one service Koa, the fast path and /ws share', async (t) => {
  const app = createApp(new ProbeRegistry().definition(), { logLevel: 'silent' });
  t.teardown(() => app.close());
  const { service } = app;
  t.equal(app.sessions, service.sessions);
  t.equal(app.protocol, service.protocol);
  t.equal(app.metrics, service.metrics);
  t.equal(app.logger, service.logger);
  t.equal(app.config, service.config);
  t.equal(app.definition, service.definition);

  const server = await startTestServer(t);
  t.equal(server.service, server.app.service);
});
