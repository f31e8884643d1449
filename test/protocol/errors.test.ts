import t from 'tap';
import {
  BadRequestError,
  CapacityExceededError,
  EnvboxError,
  errorFromWire,
  HeadersTooLargeError,
  InternalError,
  InvalidJsonError,
  InvalidRequestError,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  RequestTimeoutError,
  SandboxUnavailableError,
  SessionClosedError,
  SessionNotFoundError,
  UnauthorizedError,
  UpgradeRequiredError,
} from '../../protocol/index.js';
import { startTestServer } from '../fixtures/test-server.js';

/** Every code a server sends, with its class and status. */
const CATALOGUE = [
  ['INVALID_JSON', InvalidJsonError, 400],
  ['BAD_REQUEST', BadRequestError, 400],
  ['HEADERS_TOO_LARGE', HeadersTooLargeError, 431],
  ['REQUEST_TIMEOUT', RequestTimeoutError, 408],
  ['INVALID_REQUEST', InvalidRequestError, 422],
  ['PAYLOAD_TOO_LARGE', PayloadTooLargeError, 413],
  ['NOT_FOUND', NotFoundError, 404],
  ['METHOD_NOT_ALLOWED', MethodNotAllowedError, 405],
  ['UNAUTHORIZED', UnauthorizedError, 401],
  ['UPGRADE_REQUIRED', UpgradeRequiredError, 426],
  ['SESSION_NOT_FOUND', SessionNotFoundError, 404],
  ['CAPACITY_EXCEEDED', CapacityExceededError, 503],
  ['SESSION_CLOSED', SessionClosedError, 409],
  ['INTERNAL', InternalError, 500],
  ['SANDBOX_UNAVAILABLE', SandboxUnavailableError, 503],
] as const;

t.test('errorFromWire: every code of the catalogue comes back as its own class, with its status', async (t) => {
  for (const [code, Class, status] of CATALOGUE) {
    const error = errorFromWire({ code, message: `a ${code}`, details: { n: 1 } }, status);
    t.type(error, Class, code);
    t.equal(error.code, code);
    t.equal(error.status, status, `${code} is ${status}`);
    t.equal(error.message, `a ${code}`);
    t.same(error.details, { n: 1 });
  }
  const unknown = errorFromWire({ code: 'SOMETHING_NEW', message: 'later' }, 418);
  t.equal(unknown.constructor, EnvboxError, 'an unknown code: a plain EnvboxError');
  t.equal(unknown.code, 'SOMETHING_NEW');
  t.equal(unknown.status, 418);
});

t.test('GET /ws without an upgrade: 426 UPGRADE_REQUIRED, which the client maps to UpgradeRequiredError', async (t) => {
  const server = await startTestServer(t);
  const response = await fetch(`${server.url}/ws`);
  t.equal(response.status, 426);
  const body = (await response.json()) as { error: { code: string; message: string } };
  const error = errorFromWire(body.error, response.status);
  t.type(error, UpgradeRequiredError);
  t.equal(error.message, 'GET /ws is a WebSocket endpoint; connect with a WebSocket client.');
});
