import { z } from 'zod';
import { Language } from '../models.js';
import { DEFAULT_TEST_TIMEOUT_S, type Task } from './task.js';

/** The most a task may give each test, in seconds. */
export const MAX_TEST_TIMEOUT_S = 60;

/** The formats a task line may have; each is recognised by the fields it carries. */
export type TaskFormat = 'envbox' | 'humaneval' | 'mbpp';

const nonEmpty = z.string().min(1);
/** A function name both languages accept (it is written into the judge's test steps). */
const identifier = z.string().regex(/^[A-Za-z_$][\w$]*$/, 'expected an identifier such as add_numbers');

/** envbox's own format: one task a line. */
export const EnvboxTaskLine = z
  .strictObject({
    id: nonEmpty,
    language: Language,
    prompt: nonEmpty,
    tests: z.array(z.strictObject({ name: nonEmpty.optional(), code: nonEmpty })).min(1).optional(),
    test_code: nonEmpty.optional(),
    entry_point: identifier.optional(),
    setup_code: z.string().optional(),
    timeout_s: z.number().positive().max(MAX_TEST_TIMEOUT_S).optional(),
    /** A reference solution: the sample set's tests prove it passes; never served. */
    solution: z.string().optional(),
  })
  .refine((line) => (line.tests === undefined) !== (line.test_code === undefined), {
    message: 'give exactly one of tests (a list of {name?, code}) and test_code (one test)',
    path: ['tests'],
  });

/** HumanEval's format: `check(candidate)` in `test`, called with the entry point. */
export const HumanEvalLine = z.looseObject({
  task_id: nonEmpty,
  prompt: nonEmpty,
  canonical_solution: z.string(),
  test: nonEmpty,
  entry_point: identifier,
});

/** MBPP's format: one test per assert of `test_list`. */
export const MbppLine = z.looseObject({
  task_id: z.union([z.number().int(), nonEmpty]),
  text: nonEmpty,
  code: z.string(),
  test_list: z.array(nonEmpty).min(1),
  test_setup_code: z.string().optional(),
});

/** Which format `line` (a parsed JSON object) has, by the fields it carries; undefined for none. */
export function detectFormat(line: Record<string, unknown>): TaskFormat | undefined {
  if ('canonical_solution' in line && 'entry_point' in line && 'test' in line) return 'humaneval';
  if ('test_list' in line) return 'mbpp';
  if ('language' in line || 'tests' in line || 'test_code' in line) return 'envbox';
  return undefined;
}

/** Where a task line is read from: its split and its index in it. */
export interface TaskPlace {
  split: string;
  index: number;
}

/** The schema of each format, for the loader's validation. */
export const FORMAT_SCHEMAS = { envbox: EnvboxTaskLine, humaneval: HumanEvalLine, mbpp: MbppLine } as const;

/** A validated line of `format` as a {@link Task}. */
export function toTask(format: TaskFormat, line: unknown, place: TaskPlace): Task {
  switch (format) {
    case 'envbox':
      return fromEnvbox(line as z.output<typeof EnvboxTaskLine>, place);
    case 'humaneval':
      return fromHumanEval(line as z.output<typeof HumanEvalLine>, place);
    case 'mbpp':
      return fromMbpp(line as z.output<typeof MbppLine>, place);
  }
}

function fromEnvbox(line: z.output<typeof EnvboxTaskLine>, place: TaskPlace): Task {
  const tests = line.tests ?? [{ code: line.test_code! }];
  return {
    id: line.id,
    ...place,
    language: line.language,
    prompt: line.prompt,
    tests: tests.map((test, i) => ({ name: test.name ?? `test_${i + 1}`, code: test.code })),
    ...(line.entry_point === undefined ? {} : { entryPoint: line.entry_point }),
    ...(line.setup_code === undefined || line.setup_code === '' ? {} : { setupCode: line.setup_code }),
    timeoutS: line.timeout_s ?? DEFAULT_TEST_TIMEOUT_S,
    ...(line.solution === undefined ? {} : { solution: line.solution }),
  };
}

function fromHumanEval(line: z.output<typeof HumanEvalLine>, place: TaskPlace): Task {
  return {
    id: line.task_id,
    ...place,
    language: 'python',
    prompt: line.prompt,
    // HumanEval's test defines check(candidate); the candidate is the submission's entry point.
    tests: [{ name: 'check', code: `${line.test}\ncheck(${line.entry_point})` }],
    entryPoint: line.entry_point,
    timeoutS: DEFAULT_TEST_TIMEOUT_S,
    // A HumanEval completion continues the prompt; the prompt plus it is a whole submission.
    solution: line.prompt + line.canonical_solution,
  };
}

function fromMbpp(line: z.output<typeof MbppLine>, place: TaskPlace): Task {
  // MBPP's text does not name the function; its tests do (`assert name(...) == ...`).
  const entryPoint = /^\s*assert\s+(?:not\s+)?\(?\s*([A-Za-z_]\w*)\s*\(/.exec(line.test_list[0]!)?.[1];
  const prompt = entryPoint === undefined ? line.text : `${line.text}\nWrite it as a Python function named ${entryPoint}.`;
  return {
    id: String(line.task_id),
    ...place,
    language: 'python',
    prompt,
    tests: line.test_list.map((code, i) => ({ name: `test_${i + 1}`, code })),
    ...(entryPoint === undefined ? {} : { entryPoint }),
    ...(line.test_setup_code === undefined || line.test_setup_code === '' ? {} : { setupCode: line.test_setup_code }),
    timeoutS: DEFAULT_TEST_TIMEOUT_S,
    solution: line.code,
  };
}
