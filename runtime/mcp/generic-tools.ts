import { z } from 'zod';
import { defineTool, type AnyEnvDefinition, type AnyEnvTool, type Observation, type ToolResult } from '../../protocol/index.js';
import { serializeObservation, type EnvProtocol } from '../protocol.js';

/**
 * The tools of an environment that declares none: `reset` (its reset request as input), `step`
 * (its action schema as input) and `state`, each answering the same JSON as `/reset`, `/step` and
 * `/state`, as text and as structured content.
 */
export function genericTools(definition: AnyEnvDefinition, protocol: EnvProtocol): AnyEnvTool[] {
  const resetInput = protocol.resetRequest instanceof z.ZodObject ? protocol.resetRequest : z.looseObject({});
  const stepInput = definition.action instanceof z.ZodObject ? definition.action : z.looseObject({});
  return [
    defineTool({
      name: 'reset',
      description: `Start a new episode of ${definition.name} and return its first observation (as POST /reset answers it).`,
      input: resetInput,
      call: async (input, context) => observationResult(await context.reset(input as Record<string, unknown>)),
    }),
    defineTool({
      name: 'step',
      description: `Act in the episode of ${definition.name}: the arguments are the action (as POST /step's "action"); returns the observation, reward and done.`,
      input: stepInput,
      call: async (input, context) => observationResult(await context.step(input)),
    }),
    defineTool({
      name: 'state',
      description: `Where the episode of ${definition.name} stands (as GET /state answers it).`,
      input: z.object({}),
      call: async (_input, context) => {
        const state = (await context.state()) as Record<string, unknown>;
        return { text: JSON.stringify(state), structured: state };
      },
    }),
  ];
}

function observationResult(observation: Observation): ToolResult {
  const wire = serializeObservation(observation) as unknown as Record<string, unknown>;
  return { text: JSON.stringify(wire), structured: wire };
}
