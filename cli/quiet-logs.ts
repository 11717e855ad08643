// Handler logs below WARN kept off a command's stdout; its own module, so a command that prints no report (invoke) need not load the report code and its AWS clients.

/**
 * Handlers log through Powertools, whose INFO lines go to stdout as Lambda wants; here stdout
 * carries reports, so below WARN (which goes to stderr) they stay quiet unless asked for.
 */
export function quietHandlerLogs(): void {
  process.env.POWERTOOLS_LOG_LEVEL ??= "WARN";
}
