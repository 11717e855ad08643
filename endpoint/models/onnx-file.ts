// Loading an ONNX file for any plugin: its bytes and metadata, then a one-thread onnxruntime session.
import { readFile } from "node:fs/promises";
import * as ort from "onnxruntime-node";
import { ModelLoadError } from "../errors.ts";
import { readOnnxMetadata } from "./onnx-proto.ts";

export async function readOnnxFile(
  path: string,
): Promise<{ bytes: Buffer; metadata: Record<string, string> }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    throw new ModelLoadError(`cannot read ONNX model ${path}: ${(cause as Error).message}`, {
      cause,
    });
  }
  try {
    return { bytes, metadata: readOnnxMetadata(bytes) };
  } catch (cause) {
    throw new ModelLoadError(`${path} is not an ONNX model: ${(cause as Error).message}`, {
      cause,
    });
  }
}

/** One thread each way: the server runs one inference at a time and the machine is small. */
export async function createOnnxSession(
  path: string,
  bytes: Buffer,
): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  } catch (cause) {
    throw new ModelLoadError(`onnxruntime cannot load ${path}: ${(cause as Error).message}`, {
      cause,
    });
  }
}
