import t from 'tap';
import {
  applyTransforms,
  type CodeObservation,
  DEFAULT_SAFETY_PENALTY,
  QualityTransform,
  SafetyTransform,
  type RewardTransform,
} from '../../envs/coding_env/index.js';

// The reward transforms alone, without a sandbox: they run once, not once per Python backend (the
// definition's use of them is in coding-env-suite.ts).

const close = (actual: number | null, expected: number): boolean => actual !== null && Math.abs(actual - expected) < 1e-9;

/** An observation as the environment would build it. */
function observation(fields: Partial<CodeObservation> = {}): CodeObservation {
  return { stdout: '', stderr: '', exit_code: 0, done: false, reward: null, metadata: { result: null, language: 'python' }, ...fields };
}

t.test('transforms: custom options, composition, and no transforms at all', async (t) => {
  const action = { code: 'import os\nrm_everything()', metadata: {} };
  const safety = new SafetyTransform({ patterns: [/rm_everything/], penalty: -5 });
  t.equal(safety.name, 'safety');
  t.same(safety.apply(action), { reward: -5, metadata: { safety_violation: 'rm_everything' } });
  t.same(safety.apply({ code: 'import os', metadata: {} }), { reward: 0 }, 'only the given patterns count');
  t.same(new SafetyTransform().apply({ code: 'eval("1")', metadata: {} }), { reward: DEFAULT_SAFETY_PENALTY, metadata: { safety_violation: '\\beval\\s*\\(' } });
  t.same(new SafetyTransform().apply({ code: 'evaluate(1)', metadata: {} }), { reward: 0 }, 'a word boundary, not a substring');

  const quality = new QualityTransform({ conciseMaxChars: 5, conciseBonus: 1, syntaxErrorPenalty: -3 });
  t.equal(quality.name, 'quality');
  t.same(quality.apply({ code: '12345', metadata: {} }, observation()), { reward: 1 });
  t.same(quality.apply({ code: '123456', metadata: {} }, observation()), { reward: 0 });
  t.same(
    quality.apply({ code: 'x = =', metadata: {} }, observation({ exit_code: 1, stderr: '  File "<step 1>", line 1\nSyntaxError: invalid syntax\n' })),
    { reward: -2, metadata: { syntax_error: true } },
  );
  t.same(
    quality.apply({ code: 'if 1:', metadata: {} }, observation({ exit_code: 1, stderr: 'IndentationError: expected an indented block\n' })),
    { reward: -2, metadata: { syntax_error: true } },
    'an IndentationError is a syntax error',
  );
  t.same(
    quality.apply({ code: 'raise E', metadata: {} }, observation({ exit_code: 1, stderr: "NameError: name 'SyntaxError: x' is not defined\n" })),
    { reward: 0 },
    'only a line that starts with the error name',
  );
  t.same(
    quality.apply({ code: 'let x = = 1', metadata: {} }, observation({ exit_code: 1, stderr: "SyntaxError: unexpected token in expression: '='\n    at step-2.js:1:9\n" })),
    { reward: -3, metadata: { syntax_error: true } },
    "a JavaScript step that does not parse (QuickJS's one frame of the step's source)",
  );
  t.same(
    quality.apply({ code: "JSON.parse('{')", metadata: {} }, observation({ exit_code: 1, stderr: 'SyntaxError: expecting property name\n    at <input>:1:2\n    at parse (native)\n    at <eval> (step-3.js:1:11)\n' })),
    { reward: 0 },
    "a SyntaxError thrown at run time (JSON.parse) is the code's error, not a syntax error of the step",
  );

  const base = observation({ metadata: { result: null, language: 'python', duration_ms: 1 } });
  t.equal(applyTransforms([], action, base), base, 'no transforms: the observation as it was');
  const constant: RewardTransform = { name: 'constant', apply: () => ({ reward: 0.5, metadata: { note: 'c' } }) };
  const combined = applyTransforms([safety, quality, constant], action, base);
  t.ok(close(combined.reward ?? null, -5 + 0 + 0.5), `the terms are summed (${combined.reward})`);
  t.same(combined.metadata, {
    result: null,
    language: 'python',
    duration_ms: 1,
    safety_violation: 'rm_everything',
    note: 'c',
    reward_terms: { safety: -5, quality: 0, constant: 0.5 },
  });
  t.same(base.metadata, { result: null, language: 'python', duration_ms: 1 }, 'the input observation is not mutated');
});
