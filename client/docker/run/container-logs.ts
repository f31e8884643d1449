import type { Container } from 'dockerode';
import { DEFAULT_LOG_TAIL_LINES } from '../../provider/index.js';

/**
 * The last `tailLines` lines a container wrote to stdout and stderr, in order, as text. Never
 * throws: a container that is already gone, or an engine that fails, gives a note in place of
 * logs (the caller is usually reporting another failure already).
 */
export async function containerLogs(container: Container, tailLines: number = DEFAULT_LOG_TAIL_LINES): Promise<string> {
  try {
    const raw = (await container.logs({ stdout: true, stderr: true, follow: false, tail: tailLines })) as unknown;
    return demultiplex(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw))).trimEnd();
  } catch (error) {
    return `(no logs: ${(error as Error).message})`;
  }
}

/**
 * Join the payloads of Docker's multiplexed log stream: frames of an 8-byte header (stream type
 * 0/1/2, three zero bytes, big-endian length) and the payload. A container with a TTY sends raw
 * bytes instead, which are returned as they are.
 * See https://docs.docker.com/engine/api/v1.41/#tag/Container/operation/ContainerAttach
 */
export function demultiplex(buffer: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const type = buffer[offset];
    const framed = (type === 0 || type === 1 || type === 2) && buffer[offset + 1] === 0 && buffer[offset + 2] === 0 && buffer[offset + 3] === 0;
    if (!framed) break;
    const length = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + 8, offset + 8 + length));
    offset += 8 + length;
  }
  if (offset === 0 && buffer.length > 0) return buffer.toString('utf8');
  if (offset < buffer.length) parts.push(buffer.subarray(offset));
  return Buffer.concat(parts).toString('utf8');
}
