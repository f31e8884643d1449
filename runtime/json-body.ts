import type { IncomingMessage } from 'node:http';
import { InvalidJsonError, PayloadTooLargeError } from '../protocol/index.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Read a request body of at most `maxBodyBytes` and parse it as JSON. An empty body is `{}`
 * (OpenEnv clients may send none to `/reset`). The Content-Type is not checked, so
 * `curl -d '{...}'` works without `-H`.
 * @throws {PayloadTooLargeError} when the declared or the actual length exceeds the limit
 * @throws {InvalidJsonError} when the body is not UTF-8 or not JSON
 */
export function readJsonBody(request: IncomingMessage, maxBodyBytes: number): Promise<unknown> {
  const declared = Number(request.headers['content-length']);
  if (declared > maxBodyBytes) return Promise.reject(tooLarge(maxBodyBytes, declared));
  // Events rather than `for await`: the async iterator costs tens of microseconds per request.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received > maxBodyBytes) {
        cleanup();
        reject(tooLarge(maxBodyBytes, received));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      if (received === 0) resolve({});
      else {
        try {
          resolve(parseJson(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received), 'Body'));
        } catch (error) {
          reject(error);
        }
      }
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    // A client that goes away mid-body: nothing will answer, but the request must not hang.
    const onClose = (): void => onError(new InvalidJsonError('The request body ended before it was complete.'));
    function cleanup(): void {
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onError);
      request.off('close', onClose);
    }
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('error', onError);
    request.on('close', onClose);
  });
}

/**
 * Parse UTF-8 JSON bytes (a body or a WebSocket message).
 * @param what how to name the input in error messages, e.g. `Body`
 * @throws {InvalidJsonError} when the bytes are not UTF-8 or not JSON
 */
export function parseJson(bytes: Uint8Array, what: string): unknown {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch (error) {
    throw new InvalidJsonError(`${what} is not valid UTF-8; send JSON encoded as UTF-8.`, { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InvalidJsonError(`${what} is not valid JSON (${reason}); send a JSON object such as {"action": {...}}.`, {
      cause: error,
    });
  }
}

function tooLarge(maxBodyBytes: number, bytes: number): PayloadTooLargeError {
  return new PayloadTooLargeError(
    `Request body of ${bytes}+ bytes exceeds the limit of ${maxBodyBytes} bytes; send less, or raise --max-body-bytes.`,
    { details: { max_body_bytes: maxBodyBytes } },
  );
}
