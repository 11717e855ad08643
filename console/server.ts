// The operator console: a small node:http server on 127.0.0.1 serving plain HTML/JS/CSS and the lots of a stack.
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { extname, join } from "node:path";
import { renderWaferMap } from "../functions/artifacts/wafer-map.ts";
import { CLASS_COLOURS } from "../lib/defect-style.ts";
import { BadRequestError, ConsoleStartError, NotFoundError, NotReadyError } from "./errors.ts";
import {
  checkLotId,
  checkServableKey,
  FILE_TYPES,
  type LotSource,
  listLots,
  readObject,
  readReport,
} from "./lots.ts";

export interface ConsoleServer {
  url: string;
  port: number;
  /** Connects the console to a stack's clients; until then the API answers 503. */
  attach(source: LotSource): void;
  /** A lot changed (its report arrived): push the list to every open page now. */
  lotChanged(lotId: string): void;
  close(): Promise<void>;
}

const STATIC_DIR = join(import.meta.dirname, "static");
const STATIC_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};
const STATIC_FILES = new Set(["app.js", "style.css"]);
/** The lot list is re-read this often while a page listens, so lots that start show up too. */
const POLL_MS = 2000;
const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

function send(
  response: ServerResponse,
  status: number,
  body: string | Uint8Array,
  type: string,
): void {
  response.writeHead(status, {
    "content-type": type,
    "cache-control": "no-store",
    ...SECURITY_HEADERS,
  });
  response.end(body);
}

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  send(response, status, JSON.stringify(value), "application/json");
}

export async function startConsole(options: {
  port: number;
  log?: (line: string) => void;
}): Promise<ConsoleServer> {
  const log = options.log ?? (() => {});
  let source: LotSource | undefined;
  const clients = new Set<ServerResponse>();
  let lastList = "";
  let timer: NodeJS.Timeout | undefined;
  let port = options.port;

  const need = (): LotSource => {
    if (!source) throw new NotReadyError("the console is waiting for the local stack to start");
    return source;
  };

  const pushList = async () => {
    if (!source || clients.size === 0) return;
    try {
      const text = JSON.stringify(await listLots(source));
      if (text === lastList) return;
      lastList = text;
      for (const client of clients) client.write(`event: lots\ndata: ${text}\n\n`);
    } catch (error) {
      log(`console: cannot read the lot list: ${(error as Error).message}`);
    }
  };
  const schedule = () => {
    clearTimeout(timer);
    if (clients.size === 0) return;
    timer = setTimeout(() => pushList().finally(schedule), POLL_MS);
    timer.unref();
  };

  const events = (request: IncomingMessage, response: ServerResponse) => {
    response.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-store",
      connection: "keep-alive",
      ...SECURITY_HEADERS,
    });
    response.write("retry: 2000\n\n");
    clients.add(response);
    lastList = "";
    void pushList();
    schedule();
    request.on("close", () => {
      clients.delete(response);
      if (clients.size === 0) clearTimeout(timer);
    });
  };

  const route = async (request: IncomingMessage, response: ServerResponse) => {
    // Pages and data are for this machine only: refuse other Host names (DNS rebinding).
    const host = request.headers.host ?? "";
    if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) {
      throw new BadRequestError(`host '${host}' is not served`);
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      throw new BadRequestError(`${request.method} is not supported`);
    }
    const url = new URL(request.url ?? "/", `http://${host}`);
    const path = decodeURIComponent(url.pathname);
    if (path === "/" || /^\/lots\/[^/]+(\/wafers\/[^/]+)?\/?$/.test(path)) {
      send(
        response,
        200,
        await readFile(join(STATIC_DIR, "index.html")),
        STATIC_TYPES[".html"] as string,
      );
      return;
    }
    if (path === "/favicon.ico") {
      response.writeHead(204, SECURITY_HEADERS).end();
      return;
    }
    if (path.startsWith("/static/")) {
      const name = path.slice("/static/".length);
      if (!STATIC_FILES.has(name)) throw new NotFoundError(`no ${path}`);
      send(
        response,
        200,
        await readFile(join(STATIC_DIR, name)),
        STATIC_TYPES[extname(name)] as string,
      );
      return;
    }
    if (path === "/api/events") {
      need();
      events(request, response);
      return;
    }
    if (path === "/api/classes") {
      sendJson(response, 200, CLASS_COLOURS);
      return;
    }
    if (path === "/api/lots") {
      sendJson(response, 200, await listLots(need()));
      return;
    }
    const lot = /^\/api\/lots\/([^/]+)$/.exec(path);
    if (lot?.[1]) {
      sendJson(response, 200, await readReport(need(), checkLotId(lot[1])));
      return;
    }
    const waferMap = /^\/api\/lots\/([^/]+)\/wafers\/([^/]+)\/map\.svg$/.exec(path);
    if (waferMap?.[1] && waferMap[2]) {
      const report = await readReport(need(), checkLotId(waferMap[1]));
      const fileName = waferMap[2];
      if (!report.images.some((image) => image.fileName === fileName)) {
        throw new NotFoundError(`lot ${report.lotId} has no wafer '${fileName}'`);
      }
      const svg = renderWaferMap(report, { fileNames: [fileName], title: `${fileName} wafer map` });
      send(response, 200, svg, "image/svg+xml");
      return;
    }
    if (path.startsWith("/files/")) {
      const key = checkServableKey(path.slice("/files/".length));
      const type = FILE_TYPES[key.split(".").pop() ?? ""] ?? "application/octet-stream";
      send(response, 200, await readObject(need(), key), type);
      return;
    }
    throw new NotFoundError(`no ${path}`);
  };

  const server = createServer((request, response) => {
    route(request, response).catch((error: unknown) => {
      const e = error as Error;
      const status =
        e instanceof NotFoundError
          ? 404
          : e instanceof BadRequestError
            ? 400
            : e instanceof NotReadyError
              ? 503
              : (e as { name?: string }).name === "ZodError"
                ? 502
                : 500;
      if (status >= 500) log(`console: ${request.url}: ${e.name}: ${e.message}`);
      if (!response.headersSent)
        sendJson(response, status, { error: { name: e.name, message: e.message } });
      else response.end();
    });
  });
  port = await new Promise<number>((resolvePort, reject) => {
    server.once("error", (cause) =>
      reject(
        new ConsoleStartError(`the console cannot listen on 127.0.0.1:${options.port}`, { cause }),
      ),
    );
    server.listen(options.port, "127.0.0.1", () => {
      const address = server.address();
      resolvePort(typeof address === "object" && address ? address.port : options.port);
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    attach(next) {
      source = next;
    },
    lotChanged() {
      void pushList();
    },
    close() {
      clearTimeout(timer);
      for (const client of clients) client.end();
      clients.clear();
      return new Promise((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
      });
    },
  };
}
