import { z } from 'zod';
import { defineTool, type AnyEnvTool, type ToolResult } from '../../protocol/index.js';
import { CodeAction, CodeObservation, CodeState, Language } from './models.js';

/** What `run_code` answers as structured content (beside its text). */
export interface RunCodeResult extends Record<string, unknown> {
  stdout: string;
  stderr: string;
  exit_code: number;
  /** The trailing expression's value (Python `repr`, JavaScript `util.inspect`), or null. */
  result: string | null;
  language: Language;
  /** Whether the sandbox was destroyed (137): variables gone, the next call gets a fresh one. */
  state_lost: boolean;
}

/** The exit codes `run_code` explains in its text. */
const EXIT_NOTES: Readonly<Record<number, string>> = {
  124: 'timed out; the episode\'s state is kept',
  137: 'the sandbox was killed; the episode\'s state is lost (the next call starts a fresh one)',
};

/**
 * coding_env's MCP tools: `run_code` (one step of code; the episode's variables, functions and
 * imports persist between calls exactly as between steps), `reset` (a new episode, optionally in
 * another language) and `state`. A failure of the code (an exception, exit n, a timeout, a killed
 * sandbox) is a result with `isError: true` and the observation, never a protocol error.
 */
export const CODING_ENV_TOOLS: readonly AnyEnvTool[] = [
  defineTool<z.ZodObject<{ code: z.ZodString; language: z.ZodOptional<typeof Language>; timeout_s: z.ZodOptional<z.ZodNumber> }>, CodeAction, CodeObservation, CodeState>({
    name: 'run_code',
    description:
      'Run code in the episode\'s sandbox and return what it printed (stdout, stderr), its exit code (0 ok, 1 error, n for exit(n), 124 timed out with state kept, 137 sandbox killed with state lost) and the value of its last expression. Variables, functions and imports persist between calls until reset. `language` (python or javascript) other than the episode\'s starts a new episode in that language first.',
    input: z.object({
      code: z.string().describe('The code to run: Python or JavaScript, as the episode\'s language.'),
      language: Language.optional().describe('The language; switching it starts a new episode (state is lost).'),
      timeout_s: z.number().positive().optional().describe('Time budget of this call in seconds, capped by the server\'s --step-timeout-s.'),
    }),
    call: async ({ code, language, timeout_s }, context) => {
      if (language !== undefined && (await context.state()).language !== language) await context.reset({ language });
      return runCodeResult(await context.step({ code, metadata: {} }, { timeoutS: timeout_s }));
    },
  }),
  defineTool<z.ZodObject<{ language: z.ZodOptional<typeof Language> }>, CodeAction, CodeObservation, CodeState>({
    name: 'reset',
    description: 'Start a new episode (fresh variables), in `language` (python or javascript; the server\'s default language when absent).',
    input: z.object({ language: Language.optional().describe('The new episode\'s language.') }),
    call: async ({ language }, context) => {
      await context.reset(language === undefined ? {} : { language });
      const state = await context.state();
      return { text: `New ${state.language} episode ${state.episode_id}.`, structured: { episode_id: state.episode_id, language: state.language } };
    },
  }),
  defineTool<z.ZodObject<Record<string, never>>, CodeAction, CodeObservation, CodeState>({
    name: 'state',
    description: 'Where the episode stands: its id, the steps taken, the last exit code and the language.',
    input: z.object({}),
    call: async (_input, context) => {
      const state = await context.state();
      return { text: JSON.stringify(state), structured: { ...state } };
    },
  }),
];

/** A step's observation as `run_code`'s result: readable text, the observation as structured content. */
function runCodeResult(observation: CodeObservation): ToolResult {
  const { stdout, stderr, exit_code, metadata } = observation;
  const structured: RunCodeResult = {
    stdout,
    stderr,
    exit_code,
    result: metadata.result,
    language: metadata.language,
    state_lost: metadata.state_lost ?? false,
  };
  const parts = [stdout, stderr].filter((text) => text !== '').map((text) => text.replace(/\n$/, ''));
  if (metadata.result !== null) parts.push(metadata.result);
  if (exit_code !== 0) parts.push(`exit code ${exit_code}${EXIT_NOTES[exit_code] === undefined ? '' : `: ${EXIT_NOTES[exit_code]}`}`);
  return { text: parts.length === 0 ? '(no output)' : parts.join('\n'), structured, isError: exit_code !== 0 };
}
