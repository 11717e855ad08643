// Lowers the lot limit (WAFERFLOW_MAX_LOT_IMAGES) for the test file that imports this first: the schemas read it once, when they load, and the agent and the stack's handlers run in that file's process.

/**
 * The limit of lot-stack.test.ts's lot at the limits: the same checks as at the shipped 1000 (the
 * manifest's and the workflow's `max`, the agent's refusal), a tenth of the images.
 * test/unit/lot-limit.test.ts runs the lot's ASL at the shipped limit for the payload sizes.
 */
export const LOT_LIMIT_IN_TEST = 100;

process.env.WAFERFLOW_MAX_LOT_IMAGES = String(LOT_LIMIT_IN_TEST);
