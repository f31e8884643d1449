/// <reference path="./webassembly.d.ts" />
import { getRandomValues } from 'node:crypto';
import { WASM_PAGE_BYTES } from './wasm-layout.js';

/**
 * The image a new JavaScript episode starts from: the wasm memory of an episode that was set up
 * (runtime, both contexts, the prelude evaluated) and has run nothing else, copied once per worker
 * thread. A new episode gets a new `WebAssembly.Memory` and a new instance, as before; instead of
 * creating a runtime and two contexts and evaluating the prelude (~5 ms), the image's bytes are
 * copied into its memory (~0.2 ms), and the host's objects (runtime, contexts, handles, host
 * functions) are re-made around the pointers the image records.
 *
 * Only the 4 KiB chunks that hold something are kept and copied: a fresh memory reads as zeros, and
 * a chunk never written is never faulted in (measured on this appliance's VM: ~3.4 µs per page
 * first touched, the largest share of a copy). The chunks the instantiation itself writes (static
 * data) are always copied, so the copy leaves the memory byte for byte as the image's.
 */

/** The unit images are compared and copied in: the kernel's page. */
export const IMAGE_CHUNK_BYTES = 4096;

/** Where an episode restored from the image finds its QuickJS objects. */
export interface ImagePointers {
  /** The JSRuntime. */
  runtime: number;
  /** The guest's JSContext. */
  context: number;
  /** The formatter realm's JSContext. */
  formatterContext: number;
  /** JSValue pointers of the handles the host holds (the prelude's internals, ...), by name. */
  handles: Readonly<Record<string, number>>;
  /**
   * The host functions the image's QuickJS functions call, in the order they were registered:
   * their names and host-ref ids. A restored runtime registers its own functions in this order and
   * must get the same ids.
   */
  hostFunctions: readonly { name: string; id: number }[];
}

/** The 4 KiB chunks of `memory` that are not all zeros, by index. */
export function nonZeroChunks(memory: WebAssembly.Memory): number[] {
  const words = new BigUint64Array(memory.buffer);
  const perChunk = IMAGE_CHUNK_BYTES / 8;
  const chunks: number[] = [];
  for (let chunk = 0; chunk * perChunk < words.length; chunk += 1) {
    for (let word = chunk * perChunk, end = word + perChunk; word < end; word += 1) {
      if (words[word] !== 0n) {
        chunks.push(chunk);
        break;
      }
    }
  }
  return chunks;
}

const MASK_64 = (1n << 64n) - 1n;

/** QuickJS's `Math.random` state step (xorshift64*, quickjs.c). */
function xorshift64(state: bigint): bigint {
  let x = state;
  x ^= x >> 12n;
  x ^= (x << 25n) & MASK_64;
  x ^= x >> 27n;
  return x;
}

/** How far past a JSContext's start its `random_state` is looked for. */
const CONTEXT_SCAN_BYTES = 2048;

/**
 * Where QuickJS keeps a context's `Math.random` state, as an offset from the JSContext pointer:
 * the one 64-bit word of the context that `drawRandom` (which calls `Math.random()` once in that
 * context) advances by exactly QuickJS's xorshift64* step. Undefined when no single word does.
 *
 * Needed because a context seeds its generator when it is created (from the clock): every episode
 * restored from one image would otherwise draw the same numbers.
 */
export function locateRandomState(memory: WebAssembly.Memory, contextPointer: number, drawRandom: () => void): number | undefined {
  const read = (): bigint[] => {
    const view = new DataView(memory.buffer, contextPointer, CONTEXT_SCAN_BYTES);
    const words: bigint[] = [];
    for (let offset = 0; offset < CONTEXT_SCAN_BYTES; offset += 8) words.push(view.getBigUint64(offset, true));
    return words;
  };
  const before = read();
  drawRandom();
  const after = read();
  const matches: number[] = [];
  before.forEach((word, index) => {
    if (word !== 0n && after[index] !== word && after[index] === xorshift64(word)) matches.push(index * 8);
  });
  return matches.length === 1 ? matches[0] : undefined;
}

/**
 * The pristine memory of a set-up episode and where its objects are. Read-only once captured;
 * {@link restore} writes it into a new episode's memory.
 */
export class EpisodeImage {
  /** The memory's size when captured, in wasm pages: a restored episode's memory starts this large. */
  readonly memoryPages: number;
  /** Where the host's objects are in the image. */
  readonly pointers: ImagePointers;
  /** Indexes of the chunks kept, ascending. */
  readonly #chunks: Uint32Array;
  /** Their contents, in the same order. */
  readonly #bytes: Uint8Array;
  /** Offset of `random_state` in a JSContext, when it could be located. */
  readonly #randomStateOffset: number | undefined;

  private constructor(memoryPages: number, pointers: ImagePointers, chunks: Uint32Array, bytes: Uint8Array, randomStateOffset: number | undefined) {
    this.memoryPages = memoryPages;
    this.pointers = pointers;
    this.#chunks = chunks;
    this.#bytes = bytes;
    this.#randomStateOffset = randomStateOffset;
  }

  /**
   * Copy `memory` (a set-up episode's, at rest: no call into QuickJS in progress).
   * @param instantiationChunks chunks a bare instantiation writes (copied even if the image has zeros there)
   * @param locateRandomState called once the bytes are copied (it may run code in the captured
   *   episode): the offset of `random_state` in a JSContext ({@link locateRandomState}); without
   *   one, restored contexts keep the image's seed
   */
  static capture(memory: WebAssembly.Memory, instantiationChunks: readonly number[], pointers: ImagePointers, locateRandomState: () => number | undefined): EpisodeImage {
    const memoryPages = memory.buffer.byteLength / WASM_PAGE_BYTES;
    const kept = [...new Set([...nonZeroChunks(memory), ...instantiationChunks])].sort((a, b) => a - b);
    const source = new Uint8Array(memory.buffer);
    const bytes = new Uint8Array(kept.length * IMAGE_CHUNK_BYTES);
    kept.forEach((chunk, index) => bytes.set(source.subarray(chunk * IMAGE_CHUNK_BYTES, (chunk + 1) * IMAGE_CHUNK_BYTES), index * IMAGE_CHUNK_BYTES));
    return new EpisodeImage(memoryPages, pointers, Uint32Array.from(kept), bytes, locateRandomState());
  }

  /** The bytes the image holds (what a restore copies). */
  get byteLength(): number {
    return this.#bytes.byteLength;
  }

  /** Whether restored contexts get a seed of their own for `Math.random`. */
  get reseeds(): boolean {
    return this.#randomStateOffset !== undefined;
  }

  /**
   * Write the image into `memory`, a new instance's memory of {@link memoryPages} pages on which
   * nothing but the instantiation has run; then give each context a new random seed.
   * @throws {RangeError} when the memory is not the image's size
   */
  restore(memory: WebAssembly.Memory): void {
    if (memory.buffer.byteLength !== this.memoryPages * WASM_PAGE_BYTES) {
      throw new RangeError(`an episode image of ${this.memoryPages} pages cannot be restored into a memory of ${memory.buffer.byteLength / WASM_PAGE_BYTES} pages`);
    }
    const target = new Uint8Array(memory.buffer);
    const chunks = this.#chunks;
    const bytes = this.#bytes;
    // Runs of adjacent chunks are copied at once.
    for (let index = 0; index < chunks.length; ) {
      let end = index + 1;
      while (end < chunks.length && chunks[end] === chunks[end - 1]! + 1) end += 1;
      target.set(bytes.subarray(index * IMAGE_CHUNK_BYTES, end * IMAGE_CHUNK_BYTES), chunks[index]! * IMAGE_CHUNK_BYTES);
      index = end;
    }
    if (this.#randomStateOffset !== undefined) {
      const seeds = getRandomValues(new BigUint64Array(2));
      const view = new DataView(memory.buffer);
      for (const [index, context] of [this.pointers.context, this.pointers.formatterContext].entries()) {
        // xorshift's one forbidden state is 0.
        view.setBigUint64(context + this.#randomStateOffset, seeds[index]! | 1n, true);
      }
    }
  }
}
