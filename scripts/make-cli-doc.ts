// Writes docs/cli.md from what every `waferflow` command prints for --help (`npm run make:cli-doc`).
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { allHelp, renderCliDoc } from "./cli-doc.ts";

const path = fileURLToPath(new URL("../docs/cli.md", import.meta.url));
writeFileSync(path, renderCliDoc(await allHelp()));
console.log(`wrote ${path}`);
