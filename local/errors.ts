// Named errors of the embedded local AWS stack, so callers and logs can tell which part failed and why.

/** Anything the local stack itself got wrong or could not do. */
export class LocalStackError extends Error {
  override name = "LocalStackError";
}

/** template.yaml describes something the local stack cannot build or does not understand. */
export class TemplateError extends LocalStackError {
  override name = "TemplateError";
}

/** A local server or child process did not start or stop as it should. */
export class ServiceStartError extends LocalStackError {
  override name = "ServiceStartError";
}

/** waitForExecution gave up: the execution did not finish (or never started) in time. */
export class ExecutionWaitTimeoutError extends LocalStackError {
  override name = "ExecutionWaitTimeoutError";
}

/**
 * What a handler threw, shaped as Lambda reports it: `name` is Lambda's errorType (so ASL Retry
 * and Catch match it by name) and the message is Lambda's JSON error payload, which Step Functions
 * shows as the Cause.
 */
export class LambdaInvocationError extends Error {
  readonly errorType: string;
  readonly errorMessage: string;

  constructor(errorType: string, errorMessage: string, trace: string[], options?: ErrorOptions) {
    super(JSON.stringify({ errorType, errorMessage, trace }), options);
    this.name = errorType;
    this.errorType = errorType;
    this.errorMessage = errorMessage;
  }
}

/**
 * An error an AWS API answers with: `code` is the wire error code (e.g. ExecutionAlreadyExists),
 * which the SDK turns into the exception class of that name.
 */
export class ServiceApiError extends Error {
  override name = "ServiceApiError";
  readonly code: string;
  readonly statusCode: number;

  constructor(code: string, message: string, statusCode = 400, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.statusCode = statusCode;
  }
}
