import type { Readable, Writable } from 'node:stream';

/** Largest frame accepted from a sandbox: twice the largest output cap plus slack. */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

/**
 * The host end of the runner's private channel: 4-byte big-endian length, then that many bytes of
 * JSON, in each direction. A malformed frame is reported through `onError`; the sandbox is then
 * treated as crashed (the guest may have scribbled on its own channel).
 */
export class FrameChannel {
  readonly #output: Writable;
  #buffer: Buffer = Buffer.alloc(0);
  #waiting: ((frame: unknown) => void) | undefined;
  readonly #frames: unknown[] = [];
  /** Called with a malformed frame's error; replaceable by whoever takes the channel over. */
  onError: (error: Error) => void;

  constructor(input: Readable, output: Writable, onError: (error: Error) => void) {
    this.#output = output;
    this.onError = onError;
    input.on('data', (chunk: Buffer) => {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      try {
        this.#drain();
      } catch (error) {
        this.onError(error as Error);
      }
    });
    // EPIPE and friends surface as the child's exit; the error itself carries nothing more.
    output.on('error', () => undefined);
    input.on('error', () => undefined);
  }

  /** Send one message. */
  send(message: unknown): void {
    const json = JSON.stringify(message);
    const frame = Buffer.allocUnsafe(4 + Buffer.byteLength(json, 'utf8'));
    frame.writeUInt32BE(frame.length - 4, 0);
    frame.write(json, 4, 'utf8');
    this.#output.write(frame);
  }

  /** Send `bytes` as one frame as they are (not JSON): for a guest that expects a binary frame. */
  sendRaw(bytes: Buffer): void {
    const header = Buffer.allocUnsafe(4);
    header.writeUInt32BE(bytes.length, 0);
    this.#output.write(header);
    this.#output.write(bytes);
  }

  /** The next message, in order. */
  receive(): Promise<unknown> {
    if (this.#frames.length > 0) return Promise.resolve(this.#frames.shift());
    return new Promise((resolve) => {
      this.#waiting = resolve;
    });
  }

  #drain(): void {
    while (this.#buffer.length >= 4) {
      const size = this.#buffer.readUInt32BE(0);
      if (size > MAX_FRAME_BYTES) throw new Error(`sandbox sent a frame of ${size} bytes, over ${MAX_FRAME_BYTES}`);
      if (this.#buffer.length < 4 + size) return;
      const frame: unknown = JSON.parse(this.#buffer.subarray(4, 4 + size).toString('utf8'));
      this.#buffer = this.#buffer.subarray(4 + size);
      const waiting = this.#waiting;
      if (waiting === undefined) this.#frames.push(frame);
      else {
        this.#waiting = undefined;
        waiting(frame);
      }
    }
  }
}
