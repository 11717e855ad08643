// Entry of an inference worker thread: worker threads do not inherit the CLI's TypeScript loader, so register tsx here first.
import { register } from "tsx/esm/api";

register();
await import("./inference-worker.ts");
