// Instantiating one of the detector's WebAssembly SIMD modules, and growing its memory: shared by die-to-die.wat's and frame.wat's loaders.

/** What every kernel module exports besides its functions. */
export interface KernelMemory {
  memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
}

/** The part of the WebAssembly API used here (this project's TypeScript lib does not declare it). */
interface WebAssemblyApi {
  validate(binary: Uint8Array): boolean;
  Module: new (binary: Uint8Array) => object;
  Instance: new (module: object) => { exports: object };
}
const wasm = (globalThis as unknown as { WebAssembly?: WebAssemblyApi }).WebAssembly;

/**
 * The module's exports, or null where the runtime cannot validate it (no WebAssembly, or no
 * SIMD): the caller's JavaScript then does the same work.
 */
export function instantiateKernel<T extends KernelMemory>(base64: string): T | null {
  const binary = Uint8Array.from(Buffer.from(base64, "base64"));
  return wasm?.validate(binary) ? (new wasm.Instance(new wasm.Module(binary)).exports as T) : null;
}

/** Grows the module's memory to at least `bytes` (it is kept between calls); its buffer after. */
export function memoryOfAtLeast({ memory }: KernelMemory, bytes: number): ArrayBuffer {
  if (memory.buffer.byteLength < bytes)
    memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / 65_536));
  return memory.buffer;
}
