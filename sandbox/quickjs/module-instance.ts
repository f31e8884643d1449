/// <reference path="./webassembly.d.ts" />
import releaseSyncVariant from '@jitl/quickjs-wasmfile-release-sync';
import {
  Lifetime,
  QuickJSRuntime,
  QuickJSWASMModule,
  type EmscriptenModuleLoader,
  type IntrinsicsFlags,
  type EmscriptenModuleLoaderOptions,
  type JSRuntimePointer,
  type QuickJSEmscriptenModule,
  type QuickJSFFI,
  type QuickJSSyncVariant,
} from 'quickjs-emscripten-core';

/**
 * One QuickJS module instance per episode: emscripten's glue over the episode's own memory,
 * instantiated from the compiled module every worker shares.
 *
 * This does what quickjs-emscripten's `newQuickJSWASMModuleFromVariant` does, without its
 * per-call dynamic imports and with a synchronous `new WebAssembly.Instance` (the module is already
 * compiled), and adds the one thing an episode started from an image needs: a runtime object for a
 * JSRuntime that is already in memory ({@link EpisodeModule.adoptRuntime}).
 */

/** The only variant envbox uses: release build, no asyncify (2-5x faster, shallow V8 stack use). */
export const variant = releaseSyncVariant as unknown as QuickJSSyncVariant;

type FfiConstructor = new (module: QuickJSEmscriptenModule) => QuickJSFFI;

let loaders: Promise<{ load: EmscriptenModuleLoader<QuickJSEmscriptenModule>; Ffi: FfiConstructor }> | undefined;

/** emscripten's module factory and the FFI class of the variant, imported once per thread. */
function variantLoaders(): Promise<{ load: EmscriptenModuleLoader<QuickJSEmscriptenModule>; Ffi: FfiConstructor }> {
  loaders ??= Promise.all([variant.importModuleLoader(), variant.importFFI()]).then(([imported, Ffi]) => {
    // The import is the factory itself or a module namespace around it, as bundlers nest them.
    let load: unknown = imported;
    while (typeof load === 'object' && load !== null && 'default' in load) load = load.default;
    return { load: load as EmscriptenModuleLoader<QuickJSEmscriptenModule>, Ffi };
  });
  return loaders;
}

/**
 * quickjs-emscripten's module, with access to the runtime constructor's arguments it keeps
 * protected. Written against quickjs-emscripten-core 0.32.0 (pinned in package.json); the episode
 * image tests fail loudly if an upgrade changes these internals.
 */
export class EpisodeModule extends QuickJSWASMModule {
  /**
   * The runtime object for the JSRuntime at `pointer`, already in this instance's memory (restored
   * from an image): disposing it frees that runtime, as for one made by `newRuntime`.
   */
  adoptRuntime(pointer: number): QuickJSRuntime {
    const rt = new Lifetime<JSRuntimePointer>(pointer as JSRuntimePointer, undefined, (value) => {
      this.ffi.QTS_FreeRuntime(value);
      this.callbacks.deleteRuntime(value);
    });
    return new QuickJSRuntime({ module: this.module, ffi: this.ffi, callbacks: this.callbacks, rt });
  }

  /** A new JSRuntime, by pointer (what `newRuntime` makes, whose pointer it keeps to itself). */
  newRuntimePointer(): number {
    return this.ffi.QTS_NewRuntime();
  }

  /** A new JSContext of the runtime at `runtimePointer`, with every intrinsic, by pointer. */
  newContextPointer(runtimePointer: number): number {
    return this.ffi.QTS_NewContext(runtimePointer as JSRuntimePointer, 0 as IntrinsicsFlags);
  }
}

/**
 * A new instance of `wasmModule` over `memory`.
 * @throws when the glue or the instantiation fails (e.g. the memory cannot grow where it must)
 */
export async function instantiateModule(wasmModule: WebAssembly.Module, memory: WebAssembly.Memory): Promise<EpisodeModule> {
  const { load, Ffi } = await variantLoaders();
  const options: EmscriptenModuleLoaderOptions = {
    wasmMemory: memory as EmscriptenModuleLoaderOptions['wasmMemory'],
    instantiateWasm(imports, onSuccess) {
      const instance = new WebAssembly.Instance(wasmModule, imports as WebAssembly.Imports);
      onSuccess(instance as Parameters<typeof onSuccess>[0]);
      return instance.exports as ReturnType<NonNullable<EmscriptenModuleLoaderOptions['instantiateWasm']>>;
    },
  };
  const emscripten = await load(options);
  emscripten.type = 'sync';
  return new EpisodeModule(emscripten, new Ffi(emscripten));
}
