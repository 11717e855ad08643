// A small Lambda runtime for one sandbox: imports a built handler.mjs as an ES module and answers invocations over IPC.
// Plain JavaScript on purpose: it runs in a bare Node process (no tsx, no global `require`), like Lambda's runtime.
import { existsSync } from "node:fs";
import { flushCompileCache, isBuiltin, registerHooks } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const taskRoot = process.env.LAMBDA_TASK_ROOT ?? "";
const handlerSetting = process.env._HANDLER ?? "";
/** Each layer's root, as Lambda unpacks layers into /opt. */
const layerRoots = JSON.parse(process.env.WAFERFLOW_LAYER_DIRS ?? "[]");
const taskRootUrl = pathToFileURL(`${taskRoot}/`).href;

function send(message) {
  if (process.connected) process.send(message);
}

function errorPayload(error, fallbackType = "Error") {
  if (error instanceof Error) {
    const trace = (error.stack ?? "").split("\n");
    return {
      errorType: error.name || fallbackType,
      errorMessage: error.message,
      trace,
    };
  }
  return { errorType: fallbackType, errorMessage: String(error), trace: [] };
}

const isBare = (specifier) =>
  !isBuiltin(specifier) && !/^(\.{0,2}\/|file:|data:|node:)/.test(specifier);

/**
 * Lambda resolves a package the function imports in its own code folder first, then in its layers
 * (/opt/nodejs/node22/node_modules, /opt/nodejs/node_modules). Here the build folder sits inside the
 * repository, whose node_modules must not stand in for a package the bundle or the layer lacks.
 */
registerHooks({
  resolve(specifier, context, nextResolve) {
    if (!isBare(specifier) || !context.parentURL?.startsWith(taskRootUrl)) {
      return nextResolve(specifier, context);
    }
    const attempts = [{ root: taskRootUrl, parentURL: context.parentURL }];
    for (const layer of layerRoots) {
      for (const folder of ["nodejs/node22/node_modules", "nodejs/node_modules"]) {
        const dir = join(layer, folder);
        if (existsSync(dir)) {
          attempts.push({
            root: pathToFileURL(`${layer}/`).href,
            parentURL: pathToFileURL(join(dir, "__waferflow_resolve__.mjs")).href,
          });
        }
      }
    }
    for (const attempt of attempts) {
      try {
        const resolved = nextResolve(specifier, { ...context, parentURL: attempt.parentURL });
        if (resolved.url.startsWith(attempt.root)) return resolved;
      } catch {
        // not there: try the next place Lambda would look
      }
    }
    const error = new Error(
      `Cannot find package '${specifier}' imported from ${context.parentURL} (not in the bundle, nor in a layer of this function)`,
    );
    error.code = "ERR_MODULE_NOT_FOUND";
    throw error;
  },
});

/** Lambda's handler lookup: `<file>.<export>`, the file tried as .js, .mjs, then .cjs under the task root. */
async function loadHandler() {
  const dot = handlerSetting.lastIndexOf(".");
  if (dot <= 0) {
    throw Object.assign(new Error(`Bad handler ${handlerSetting}: expected file.export`), {
      name: "Runtime.MalformedHandlerName",
    });
  }
  const base = handlerSetting.slice(0, dot);
  const exportName = handlerSetting.slice(dot + 1);
  const file = [".js", ".mjs", ".cjs"]
    .map((extension) => join(taskRoot, `${base}${extension}`))
    .find((candidate) => existsSync(candidate));
  if (!file) {
    throw Object.assign(new Error(`Cannot find module '${base}' in ${taskRoot}`), {
      name: "Runtime.ImportModuleError",
    });
  }
  let module;
  try {
    module = await import(pathToFileURL(file).href);
  } catch (error) {
    if (error?.code === "ERR_MODULE_NOT_FOUND" || error?.code === "ERR_REQUIRE_ESM") {
      throw Object.assign(new Error(`${error.message}`), { name: "Runtime.ImportModuleError" });
    }
    if (error instanceof SyntaxError) {
      throw Object.assign(new Error(error.message), { name: "Runtime.UserCodeSyntaxError" });
    }
    throw error;
  }
  const handler = module[exportName];
  if (typeof handler !== "function") {
    throw Object.assign(new Error(`${handlerSetting} is undefined or not exported`), {
      name: "Runtime.HandlerNotFound",
    });
  }
  return handler;
}

let current;
process.on("uncaughtException", (error) => {
  send({ type: "crash", id: current, ...errorPayload(error) });
  process.exit(129);
});
process.on("unhandledRejection", (reason) => {
  const payload = errorPayload(reason);
  send({
    type: "crash",
    id: current,
    ...payload,
    errorType: "Runtime.UnhandledPromiseRejection",
    errorMessage: `${payload.errorType}: ${payload.errorMessage}`,
  });
  process.exit(128);
});
// The parent (the local stack) went away: so does the sandbox.
process.on("disconnect", () => process.exit(0));

let handler;
try {
  handler = await loadHandler();
} catch (error) {
  send({ type: "init-error", ...errorPayload(error) });
  process.disconnect?.();
  process.exitCode = 1;
}

if (handler) {
  // With NODE_COMPILE_CACHE set, the bundle's compiled code goes to disk now: a sandbox ends by
  // SIGTERM, which would skip Node's write at exit, and the next sandbox of this bundle reads it.
  flushCompileCache?.();
  process.on("message", async (message) => {
    if (message?.type !== "invoke") return;
    current = message.id;
    const { deadlineMs, ...fields } = message.context;
    const context = {
      ...fields,
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
    };
    try {
      const result = await new Promise((resolvePromise, rejectPromise) => {
        const callback = (error, value) => (error ? rejectPromise(error) : resolvePromise(value));
        Promise.resolve()
          .then(() => handler(JSON.parse(message.event), context, callback))
          .then((value) => {
            // A callback-style handler returns undefined and answers through the callback.
            if (handler.length < 3 || value !== undefined) resolvePromise(value);
          }, rejectPromise);
      });
      send({ type: "result", id: message.id, result: JSON.stringify(result ?? null) });
    } catch (error) {
      send({ type: "error", id: message.id, ...errorPayload(error) });
    } finally {
      current = undefined;
    }
  });
  send({ type: "ready" });
}
