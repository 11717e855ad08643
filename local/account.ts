// The one local account: its id, region, stack name and key pair, and every ARN the local stack hands out is built here.

export const LOCAL_REGION = "us-east-1";
export const LOCAL_ACCOUNT = "000000000000";
export const LOCAL_STACK_NAME = "local";
/** The one key pair: s3rver accepts exactly these, and every service of the stack checks signatures against them. */
export const LOCAL_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;

/** arn:aws:<service>:<region>:<account>:<resource>; S3 ARNs carry neither region nor account. */
export function localArn(service: string, resource: string): string {
  return service === "s3"
    ? `arn:aws:s3:::${resource}`
    : `arn:aws:${service}:${service === "iam" ? "" : LOCAL_REGION}:${LOCAL_ACCOUNT}:${resource}`;
}

/** An execution's ARN: its state machine's, with `execution` for `stateMachine` and its name after. */
export function executionArnOf(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(":stateMachine:", ":execution:")}:${name}`;
}
