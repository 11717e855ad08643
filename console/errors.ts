// Named errors of the console; the server turns them into HTTP statuses at its edge.

/** What was asked for does not exist (unknown lot, no report yet, no such file). */
export class NotFoundError extends Error {
  override name = "NotFoundError";
}

/** The request names something the console will not serve (bad lot id, key outside a lot). */
export class BadRequestError extends Error {
  override name = "BadRequestError";
}

/** The console is up but not yet connected to a stack. */
export class NotReadyError extends Error {
  override name = "NotReadyError";
}

/** The console's port could not be taken. */
export class ConsoleStartError extends Error {
  override name = "ConsoleStartError";
}
