import { z } from 'zod';
import { defineTool, type AnyEnvTool } from '../../protocol/index.js';
import type { EchoAction, EchoObservation, EchoState } from './models.js';

const MessageInput = z.object({ message: z.string().describe('The message to echo back.') });

/**
 * echo_env's MCP tools, named and shaped as OpenEnv's echo_env has them: `echo_message` answers
 * the message (structured `{"result": message}`, OpenEnv's `data` the message itself) and
 * `echo_with_length` answers `{"message", "length"}`. Each is one step of the episode.
 */
export const ECHO_ENV_TOOLS: readonly AnyEnvTool[] = [
  defineTool<typeof MessageInput, EchoAction, EchoObservation, EchoState>({
    name: 'echo_message',
    description: 'Echo back the provided message.',
    input: MessageInput,
    call: async ({ message }, context) => {
      const { echoed_message } = await context.step({ message, metadata: {} });
      return { text: echoed_message, structured: { result: echoed_message }, value: echoed_message };
    },
  }),
  defineTool<typeof MessageInput, EchoAction, EchoObservation, EchoState>({
    name: 'echo_with_length',
    description: 'Echo back the message with its length.',
    input: MessageInput,
    call: async ({ message }, context) => {
      const { echoed_message, message_length } = await context.step({ message, metadata: {} });
      const result = { message: echoed_message, length: message_length };
      return { text: JSON.stringify(result), structured: result };
    },
  }),
];
