/**
 * The memory layout of QuickJS's emscripten build, read from its wasm binary, and the one change
 * envbox makes to it: the declared minimum of the imported memory.
 *
 * emscripten lays linear memory out as [static data][shadow stack, 5 MiB, growing down][heap]. The
 * build declares its memory import with a minimum of 16 MiB (its INITIAL_MEMORY), so every episode
 * would start with 16 MiB of memory the budget could not see being used: the heap's first ~11 MiB
 * are handed out by dlmalloc without any growth. Lowering the declared minimum to the heap's start
 * makes every byte of heap arrive through `memory.grow`, where the episode memory budget is
 * checked. emscripten's own code grows memory from whatever size it finds (its sbrk compares with
 * the memory's current size), so nothing else changes. The change is two bytes, written in place
 * as a padded LEB128 of the same length, so no section moves.
 *
 * The walk below reads only the import and global sections' few fields it needs; it is not a
 * general wasm parser (none of the maintained ones is a dependency of envbox, and this needs 40
 * lines). Anything unexpected leaves the binary as it is, and the layout says so.
 */

/** A wasm page. */
export const WASM_PAGE_BYTES = 65_536;

/** What envbox knows of the build's memory. */
export interface WasmLayout {
  /** The memory import's minimum, in pages, after patching (the build's own when unpatched). */
  initialPages: number;
  /** Where the heap starts (the shadow stack's top), in bytes; 0 when it could not be read. */
  heapBase: number;
  /** Whether the minimum was lowered to the heap's start. */
  patched: boolean;
}

const IMPORT_SECTION = 2;
const GLOBAL_SECTION = 6;
const KIND_FUNCTION = 0;
const KIND_TABLE = 1;
const KIND_MEMORY = 2;
const KIND_GLOBAL = 3;
const I32 = 0x7f;
const I32_CONST = 0x41;

class Reader {
  constructor(
    readonly bytes: Uint8Array,
    public at: number,
  ) {}

  byte(): number {
    if (this.at >= this.bytes.length) throw new Error('unexpected end of the wasm binary');
    return this.bytes[this.at++]!;
  }

  /** An unsigned LEB128 of at most 32 bits. */
  u32(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = this.byte();
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
    }
    throw new Error('a LEB128 longer than 5 bytes');
  }

  /** A signed LEB128 of at most 32 bits. */
  s32(): number {
    let result = 0;
    let shift = 0;
    let byte: number;
    do {
      byte = this.byte();
      result |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80 && shift < 35);
    return shift < 32 && byte & 0x40 ? result | (~0 << shift) : result;
  }

  skipName(): void {
    const length = this.u32();
    this.at += length;
  }

  skipLimits(): void {
    const flags = this.byte();
    this.u32();
    if (flags & 1) this.u32();
  }
}

/**
 * Lower the memory import's minimum of `bytes` (in place) to the pages the heap starts in, and say
 * what the layout is. Leaves `bytes` untouched when the binary is not laid out as expected.
 */
export function patchInitialMemory(bytes: Uint8Array): WasmLayout {
  let memoryMin: { at: number; length: number; pages: number } | undefined;
  let heapBase = 0;
  try {
    const reader = new Reader(bytes, 8);
    while (reader.at < bytes.length) {
      const id = reader.byte();
      const size = reader.u32();
      const end = reader.at + size;
      if (id === IMPORT_SECTION) {
        for (let count = reader.u32(); count > 0; count -= 1) {
          reader.skipName();
          reader.skipName();
          const kind = reader.byte();
          if (kind === KIND_FUNCTION) reader.u32();
          else if (kind === KIND_TABLE) {
            reader.byte();
            reader.skipLimits();
          } else if (kind === KIND_MEMORY) {
            reader.byte(); // flags
            const at = reader.at;
            const pages = reader.u32();
            memoryMin = { at, length: reader.at - at, pages };
            break;
          } else if (kind === KIND_GLOBAL) reader.at += 2;
          else throw new Error(`unknown import kind ${kind}`);
        }
      } else if (id === GLOBAL_SECTION) {
        // emscripten's first global is the shadow stack pointer: a mutable i32 whose initial value
        // is the stack's top, where the heap begins.
        reader.u32();
        const type = reader.byte();
        const mutable = reader.byte();
        if (type === I32 && mutable === 1 && reader.byte() === I32_CONST) heapBase = reader.s32();
      }
      reader.at = end;
    }
  } catch {
    return { initialPages: memoryMin?.pages ?? 0, heapBase: 0, patched: false };
  }
  if (memoryMin === undefined) return { initialPages: 0, heapBase: 0, patched: false };
  const pages = Math.ceil(heapBase / WASM_PAGE_BYTES);
  if (heapBase <= 0 || pages >= memoryMin.pages || pages >= 2 ** (7 * memoryMin.length)) {
    return { initialPages: memoryMin.pages, heapBase: Math.max(0, heapBase), patched: false };
  }
  // A padded LEB128 of the same length: 7 bits per byte, continuation bit on all but the last.
  for (let index = 0; index < memoryMin.length; index += 1) {
    const bits = Math.floor(pages / 2 ** (7 * index)) & 0x7f;
    bytes[memoryMin.at + index] = index < memoryMin.length - 1 ? bits | 0x80 : bits;
  }
  return { initialPages: pages, heapBase, patched: true };
}
