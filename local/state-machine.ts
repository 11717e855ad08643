// Prepares a template state machine for aws-local-stepfunctions: every Task state wired to the template function its ARN names.
import type { StateMachine, StateMachineDefinition } from "aws-local-stepfunctions";
import { validatedStateMachine } from "./asl-validation-cache.ts";
import { TemplateError } from "./errors.ts";
import type { LambdaInvoker } from "./lambda.ts";
import type { LocalFunction, LocalStateMachine } from "./resource-model.ts";

export type TaskHandler = (input: unknown) => Promise<unknown>;

export interface PreparedStateMachine {
  spec: LocalStateMachine;
  machine: StateMachine;
  /** The definition as run (task timeouts filled in), to resume it at any top-level state. */
  definition: StateMachineDefinition & { States: Record<string, StateNode> };
  taskHandlers: Record<string, TaskHandler>;
}

/** The library's own Task default is 60 s; AWS has none, so a long Lambda would fail only locally. */
const TASK_TIMEOUT_SECONDS = 24 * 24 * 3600;

export interface StateNode {
  Type?: string;
  Next?: string;
  End?: boolean;
  Resource?: string;
  Parameters?: Record<string, unknown>;
  TimeoutSeconds?: number;
  TimeoutSecondsPath?: string;
  Retry?: unknown[];
  Branches?: Array<{ States?: Record<string, StateNode> }>;
  Iterator?: { States?: Record<string, StateNode> };
  ItemProcessor?: { States?: Record<string, StateNode> };
}

/** Every state, including those inside Map and Parallel states, by name. */
export function allStates(states: Record<string, StateNode>, found = new Map<string, StateNode>()) {
  for (const [name, state] of Object.entries(states)) {
    if (found.has(name)) {
      throw new TemplateError(
        `state name '${name}' is used twice; aws-local-stepfunctions wires tasks by state name`,
      );
    }
    found.set(name, state);
    for (const branch of state.Branches ?? []) allStates(branch.States ?? {}, found);
    const nested = state.ItemProcessor ?? state.Iterator;
    if (nested) allStates(nested.States ?? {}, found);
  }
  return found;
}

/** Wires each Task to the template function whose ARN it names (the ASL gets them by GetAtt Arn). */
export function prepare(
  spec: LocalStateMachine,
  functions: LocalFunction[],
  invoker: LambdaInvoker,
): PreparedStateMachine {
  const definition = structuredClone(spec.definition) as unknown as StateMachineDefinition & {
    States: Record<string, StateNode>;
  };
  if (!definition.States || typeof definition.StartAt !== "string") {
    throw new TemplateError(`${spec.logicalId}: the definition needs StartAt and States`);
  }
  const taskHandlers: Record<string, TaskHandler> = {};
  for (const [stateName, state] of allStates(definition.States)) {
    if (state.Type !== "Task") continue;
    const where = `${spec.logicalId} state '${stateName}'`;
    const resource = state.Resource ?? "";
    if (state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) {
      state.TimeoutSeconds = TASK_TIMEOUT_SECONDS;
    }
    const fn = functions.find((candidate) => candidate.arn === resource);
    if (!fn) {
      throw new TemplateError(
        `${where}: the local stack runs only Lambda tasks naming a template function's ARN, not '${resource}'`,
      );
    }
    taskHandlers[stateName] = (input) => invoker.invoke(fn, input);
  }
  let machine: StateMachine;
  try {
    machine = validatedStateMachine(definition);
  } catch (cause) {
    throw new TemplateError(
      `${spec.logicalId}: invalid state machine definition: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
  return { spec, machine, definition, taskHandlers };
}
