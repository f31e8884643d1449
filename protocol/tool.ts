import type { z } from 'zod';
import type { Observation, State } from './models.js';

/**
 * What a tool may do in its session's episode: the environment's own operations, through the
 * server, so a tool call is validated, time-budgeted, serialised with the session's other calls
 * and counted in the metrics exactly like `/reset`, `/step` and `/state`.
 */
export interface ToolContext<A = unknown, O extends Observation = Observation, S extends State = State> {
  /** Start a new episode; `request` is a reset request (validated by the environment's reset schema). */
  reset(request?: Record<string, unknown>): Promise<O>;
  /** Act in the episode (`action` is validated by the action schema); `timeoutS` is capped by the server's step timeout. */
  step(action: A, options?: { timeoutS?: number | undefined }): Promise<O>;
  /** Where the episode stands. */
  state(): Promise<S>;
}

/**
 * What a tool answers. A failure of the tool's own work (the code raised, timed out, was killed)
 * is a result with `isError: true`, never a thrown error: throw only when the appliance is broken.
 */
export interface ToolResult {
  /** The text an agent reads (MCP's text content). */
  text: string;
  /** The result as a JSON object (MCP's `structuredContent`). */
  structured?: Record<string, unknown>;
  /** The value OpenEnv's clients read (`data` of its `tools/call` result); `structured` when absent. */
  value?: unknown;
  /** Whether the tool's work failed. @default false */
  isError?: boolean;
}

/**
 * One MCP tool of an environment: its name, what it does, its input schema (a zod object: the
 * server validates arguments with it and lists its JSON Schema) and what it does with its session.
 */
export interface EnvTool<I extends z.ZodObject = z.ZodObject, A = unknown, O extends Observation = Observation, S extends State = State> {
  /** The tool's name, e.g. `run_code`: letters, digits, `_` and `-`. */
  name: string;
  /** One paragraph on what the tool does, for the agent. */
  description: string;
  /** The arguments' schema. */
  input: I;
  /** Run the tool in its session's episode. */
  call(input: z.output<I>, context: ToolContext<A, O, S>): Promise<ToolResult>;
}

/** An {@link EnvTool} of any types, as definitions hold them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- variance of the tool's type parameters
export type AnyEnvTool = EnvTool<any, any, any, any>;

/** Declare a tool with its input's types inferred from its zod schema. */
export function defineTool<I extends z.ZodObject, A = unknown, O extends Observation = Observation, S extends State = State>(tool: EnvTool<I, A, O, S>): EnvTool<I, A, O, S> {
  return tool;
}
