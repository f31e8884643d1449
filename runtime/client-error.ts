import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { BadRequestError, HeadersTooLargeError, RequestTimeoutError, type EnvboxError } from '../protocol/index.js';
import type { EnvService } from './env-service.js';
import { errorReply } from './error-reply.js';
import { rawReply } from './http-reply.js';

/** The response Node's HTTP server has begun on a socket, if any (its own default handler checks the same). */
interface SocketWithResponse extends Duplex {
  _httpMessage?: { headersSent?: boolean } | null;
}

/**
 * Answer what Node's HTTP parser rejects before any route sees it with the documented envelope
 * instead of a bare `400 Bad Request`: malformed request lines or headers, a body that disagrees
 * with its Content-Length or chunked framing, headers too large (431), and requests whose headers
 * and body did not arrive within `requestTimeoutMs` (408: slow or stalled uploads, slowloris).
 * The connection is closed afterwards, since its framing can no longer be trusted. The reply is
 * {@link errorReply}'s, written on the socket (Node has no response object for such a request).
 */
export function answerClientErrors(http: Server, service: EnvService): void {
  const { requestTimeoutMs } = service.config;
  http.requestTimeout = requestTimeoutMs;
  http.headersTimeout = requestTimeoutMs;
  http.on('clientError', (error: NodeJS.ErrnoException, socket: SocketWithResponse) => {
    if (error.code === 'ECONNRESET' || !socket.writable || socket._httpMessage?.headersSent === true) {
      socket.destroy();
      return;
    }
    const cause = error.code ?? error.message;
    const reply = errorReply(classify(error, requestTimeoutMs), service, { cause });
    service.logger.info('http client error', { code: reply.body.error.code, cause });
    socket.end(rawReply(reply));
  });
}

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
