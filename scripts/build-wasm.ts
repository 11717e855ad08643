// `npm run build:wasm`: assembles the detector's WebAssembly kernels (endpoint/detector/*.wat) into the TypeScript modules that ship them.
import { readFile, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import wabt from "wabt";

const DETECTOR = resolve(import.meta.dirname, "..", "endpoint", "detector");

/** Each kernel's source (WAT) and the module it is written to (the binary as base64). */
export const KERNELS = [
  {
    source: resolve(DETECTOR, "die-to-die.wat"),
    module: resolve(DETECTOR, "die-to-die-kernel.ts"),
  },
  {
    source: resolve(DETECTOR, "frame.wat"),
    module: resolve(DETECTOR, "frame-kernel.ts"),
  },
] as const;

/** The binary of a WAT source; SIMD is the only feature beyond the MVP it may use. */
export async function assemble(path: string): Promise<Uint8Array> {
  const toolkit = await wabt();
  const parsed = toolkit.parseWat(path, await readFile(path, "utf8"), { simd: true });
  try {
    parsed.validate();
    return parsed.toBinary({ canonicalize_lebs: true }).buffer;
  } finally {
    parsed.destroy();
  }
}

/** The TypeScript module text that carries a kernel's binary (a string, so every bundler keeps it). */
export function kernelModule(source: string, binary: Uint8Array): string {
  const base64 = Buffer.from(binary).toString("base64");
  const lines = base64.match(/.{1,96}/g) ?? [];
  return [
    `// WebAssembly binary of ${source}, written by npm run build:wasm (scripts/build-wasm.ts); do not edit.`,
    "export const KERNEL_BASE64 =",
    `${lines.map((line) => `  "${line}"`).join(" +\n")};`,
    "",
  ].join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const kernel of KERNELS) {
    const binary = await assemble(kernel.source);
    const name = kernel.source.slice(DETECTOR.length + 1);
    await writeFile(kernel.module, kernelModule(`endpoint/detector/${name}`, binary));
    console.error(`${kernel.module}: ${binary.length} bytes of WebAssembly`);
  }
}
