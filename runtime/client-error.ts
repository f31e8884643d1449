import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { BadRequestError, HeadersTooLargeError, RequestTimeoutError, type EnvboxError } from '../protocol/index.js';
import type { Logger } from './logger.js';

/** The response Node's HTTP server has begun on a socket, if any (its own default handler checks the same). */
interface SocketWithResponse extends Duplex {
  _httpMessage?: { headersSent?: boolean } | null;
}

/**
 * Answer what Node's HTTP parser rejects before any route sees it with the documented envelope
 * instead of a bare `400 Bad Request`: malformed request lines or headers, a body that disagrees
 * with its Content-Length or chunked framing, headers too large (431), and requests whose headers
 * and body did not arrive within `requestTimeoutMs` (408: slow or stalled uploads, slowloris).
 * The connection is closed afterwards, since its framing can no longer be trusted.
 */
export function answerClientErrors(http: Server, requestTimeoutMs: number, logger: Logger): void {
  http.requestTimeout = requestTimeoutMs;
  http.headersTimeout = requestTimeoutMs;
  http.on('clientError', (error: NodeJS.ErrnoException, socket: SocketWithResponse) => {
    if (error.code === 'ECONNRESET' || !socket.writable || socket._httpMessage?.headersSent === true) {
      socket.destroy();
      return;
    }
    const envboxError = classify(error, requestTimeoutMs);
    logger.info('http client error', { code: envboxError.code, cause: error.code ?? error.message });
    const body = JSON.stringify({ error: envboxError.toWire() });
    socket.end(
      `HTTP/1.1 ${envboxError.status} ${STATUS_TEXT[envboxError.status] ?? 'Bad Request'}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
  });
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

function classify(error: NodeJS.ErrnoException, requestTimeoutMs: number): EnvboxError {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return new RequestTimeoutError(`The request's headers and body did not arrive within ${requestTimeoutMs / 1000} s.`, { cause: error });
  }
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    return new HeadersTooLargeError('The request headers are larger than 16 KiB.', { cause: error });
  }
  const reason = (error as { reason?: unknown }).reason;
  return new BadRequestError(`The request is not valid HTTP/1.1 (${typeof reason === 'string' ? reason : error.code ?? 'parse error'}).`, { cause: error });
}
