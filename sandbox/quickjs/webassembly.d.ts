// The part of the WebAssembly JS API that sandbox/quickjs uses. TypeScript declares it only in
// lib.dom, which a Node server should not pull in.
declare global {
  namespace WebAssembly {
    class Module {
      constructor(bytes: ArrayBufferView | ArrayBuffer);
    }
    interface MemoryDescriptor {
      initial: number;
      maximum?: number;
      shared?: boolean;
    }
    class Memory {
      constructor(descriptor: MemoryDescriptor);
      readonly buffer: ArrayBuffer;
      grow(deltaPages: number): number;
    }
    type ImportValue = ((...args: never[]) => unknown) | Memory;
    type Imports = Record<string, Record<string, ImportValue>>;
    type Exports = Record<string, unknown>;
    class Instance {
      constructor(module: Module, imports?: Imports);
      readonly exports: Exports;
    }
    function compile(bytes: ArrayBufferView | ArrayBuffer): Promise<Module>;
  }
}

export {};
