import { STATUS_CODES, type ServerResponse } from 'node:http';

/** Headers every response carries. */
export const COMMON_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
});

/** The media type of every JSON reply (Koa's for an object body, so both paths send the same bytes). */
export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/** A JSON reply: status, headers besides {@link COMMON_HEADERS}, and the body to serialize. */
export interface HttpReply<Body = unknown> {
  status: number;
  headers: Record<string, string>;
  body: Body;
}

/** Write `reply` as the whole response, without Koa (the fast path). */
export function writeReply(response: ServerResponse, reply: HttpReply): void {
  const json = JSON.stringify(reply.body);
  response.writeHead(reply.status, {
    ...COMMON_HEADERS,
    ...reply.headers,
    'Content-Type': JSON_CONTENT_TYPE,
    'Content-Length': Buffer.byteLength(json),
  });
  response.end(json);
}

/**
 * `reply` as the bytes of a whole HTTP/1.1 response, for a socket that no `ServerResponse` serves
 * (an upgrade refused, a request Node's parser rejected). It ends with `Connection: close`: the
 * caller ends the socket after it.
 */
export function rawReply(reply: HttpReply): string {
  const json = JSON.stringify(reply.body);
  const headers = {
    ...COMMON_HEADERS,
    ...reply.headers,
    'Content-Type': JSON_CONTENT_TYPE,
    'Content-Length': String(Buffer.byteLength(json)),
    Connection: 'close',
  };
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return `HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status] ?? 'Error'}\r\n${lines.join('')}\r\n${json}`;
}
