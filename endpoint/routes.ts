// The model server's paths: GET /ping, POST /invocations (the container contract) and the runtime API's /endpoints/{name}/invocations.

export type Route =
  | { kind: "ping" }
  | { kind: "invoke"; runtimeApi: boolean; endpointName: string | undefined }
  | { kind: "unknown" };

export function routeOf(pathname: string): Route {
  if (pathname === "/ping") return { kind: "ping" };
  if (pathname === "/invocations")
    return { kind: "invoke", runtimeApi: false, endpointName: undefined };
  const runtime = /^\/endpoints\/([^/]+)\/invocations$/.exec(pathname);
  if (runtime?.[1]) {
    let name: string;
    try {
      name = decodeURIComponent(runtime[1]);
    } catch {
      name = runtime[1];
    }
    return { kind: "invoke", runtimeApi: true, endpointName: name };
  }
  return { kind: "unknown" };
}
