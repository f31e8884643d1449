import t from 'tap';
import { createCodingEnvDefinition, TaskSet, type Task } from '../../../envs/coding_env/index.js';
import { request, startTestServer } from '../../fixtures/test-server.js';

const python = (id: string, entryPoint: string | undefined, tests: string[], setupCode?: string): Task => ({
  id,
  split: 'judge',
  index: 0,
  language: 'python',
  prompt: id,
  tests: tests.map((code, i) => ({ name: `t${i}`, code })),
  ...(entryPoint === undefined ? {} : { entryPoint }),
  ...(setupCode === undefined ? {} : { setupCode }),
  timeoutS: 5,
});

// Tests shaped like HumanEval's and MBPP's, judged by replay (or, where replay cannot, in the
// submission's interpreter): each with a correct submission (reward 1) and a wrong one (less).
const CASES: { task: Task; right: string; wrong: string; wrongReward: number }[] = [
  {
    task: python('check-many-calls', 'double', ['def check(candidate):\n    assert candidate(2) == 4\n    for x in range(20):\n        assert candidate(x) == 2 * x\n    assert candidate(-1.5) == -3.0\n\ncheck(double)']),
    right: 'def double(x):\n    return x * 2',
    wrong: 'def double(x):\n    return x * 2 if x < 10 else 0',
    wrongReward: 0,
  },
  {
    task: python('exceptions', 'parse', [
      'try:\n    parse("x")\n    raise AssertionError("expected ValueError")\nexcept ValueError:\n    pass',
      'assert parse("12") == 12',
    ]),
    right: 'def parse(s):\n    return int(s)',
    wrong: 'def parse(s):\n    try:\n        return int(s)\n    except ValueError:\n        return None',
    wrongReward: 0.5,
  },
  {
    task: python('containers', 'pairs', ['assert pairs({"b": 2, "a": 1}) == [("a", 1), ("b", 2)]', 'assert pairs({}) == []']),
    right: 'def pairs(d):\n    return sorted(d.items())',
    wrong: 'def pairs(d):\n    return list(d.items())',
    wrongReward: 0.5,
  },
  {
    task: python('seeded-random', 'square', ['import random\nfor _ in range(5):\n    x = random.randint(0, 100)\n    assert square(x) == x * x']),
    right: 'def square(x):\n    return x * x',
    wrong: 'def square(x):\n    return x + x',
    wrongReward: 0,
  },
  {
    task: python('setup-code', 'area', ['assert abs(area(1) - math.pi) < 1e-9'], 'import math'),
    right: 'def area(r):\n    return math.pi * r * r',
    wrong: 'def area(r):\n    return 3 * r * r',
    wrongReward: 0,
  },
  {
    task: python('lambda-argument (not a literal: judged in the interpreter)', 'apply', ['assert apply(lambda v: v + 1, 1) == 2']),
    right: 'def apply(f, x):\n    return f(x)',
    wrong: 'def apply(f, x):\n    return x',
    wrongReward: 0,
  },
  {
    task: python('another name (judged in the interpreter)', 'first', ['assert helper(3) == 6 and first(1) == 1']),
    right: 'def helper(x):\n    return 2 * x\ndef first(x):\n    return x',
    wrong: 'def helper(x):\n    return x\ndef first(x):\n    return x',
    wrongReward: 0,
  },
  {
    task: python('no entry point', undefined, ['assert triple(2) == 6']),
    right: 'def triple(x):\n    return 3 * x',
    wrong: 'def triple(x):\n    return x',
    wrongReward: 0,
  },
];

t.test('replay judging of HumanEval- and MBPP-shaped tests', async (t) => {
  const tasks = new TaskSet(new Map([['judge', CASES.map(({ task }, index) => ({ ...task, index }))]]));
  const server = await startTestServer(t, {}, await createCodingEnvDefinition({ poolSize: 2, tasks }));
  const items = CASES.flatMap(({ task, right, wrong }) => [
    { task_id: task.id, code: right },
    { task_id: task.id, code: wrong },
  ]);
  const { body } = await request(server, 'POST', '/evaluate', { items });
  for (const [i, { task, wrongReward }] of CASES.entries()) {
    const [right, wrong] = [body.results[2 * i], body.results[2 * i + 1]];
    t.equal(right.reward, 1, `${task.id}: right (${JSON.stringify(right.tests)})`);
    t.equal(wrong.reward, wrongReward, `${task.id}: wrong (${JSON.stringify(wrong.tests)})`);
  }
});

t.test('the Pyodide backend judges the same way (replay, and the in-sandbox fallback with pristine builtins)', async (t) => {
  const tasks = new TaskSet(
    new Map([
      [
        'judge',
        [
          { ...python('replayed', 'add', ['assert add(1, 2) == 3', 'assert add(-1, 1) == 0']), index: 0 },
          { ...python('in the sandbox', undefined, ['assert len(pair(1)) == 2']), index: 1 },
        ],
      ],
    ]),
  );
  const server = await startTestServer(t, {}, await createCodingEnvDefinition({ pythonBackend: 'pyodide', poolSize: 1, tasks }));
  const { body } = await request(server, 'POST', '/evaluate', {
    items: [
      { task_id: 'replayed', code: 'def add(a, b):\n    return a + b' },
      { task_id: 'replayed', code: 'class Yes:\n    def __eq__(self, other):\n        return True\ndef add(a, b):\n    return Yes()' },
      { task_id: 'in the sandbox', code: 'def pair(x):\n    return (x, x)' },
      { task_id: 'in the sandbox', code: 'import builtins\n_len = builtins.len\nbuiltins.len = lambda value: 2 if type(value) is int else _len(value)\ndef pair(x):\n    return x' },
    ],
  });
  t.match(body.results, [{ reward: 1 }, { reward: 0 }, { reward: 1 }, { reward: 0, tests: [{ reason: /TypeError/ }] }]);
});

t.test('HumanEval and MBPP files, judged end to end: their reference solutions score 1, wrong ones less', async (t) => {
  const dir = t.testdir({
    'humaneval.jsonl': JSON.stringify({
      task_id: 'HumanEval/x',
      prompt: 'def below_zero(operations: list) -> bool:\n    """Whether a running sum of operations ever goes below zero."""\n',
      canonical_solution: '    total = 0\n    for op in operations:\n        total += op\n        if total < 0:\n            return True\n    return False\n',
      test: 'METADATA = {}\n\ndef check(candidate):\n    assert candidate([]) == False\n    assert candidate([1, 2, -3, 1, 2, -3]) == False\n    assert candidate([1, 2, -4, 5, 6]) == True\n',
      entry_point: 'below_zero',
    }),
    'mbpp.jsonl': JSON.stringify({
      task_id: 2,
      text: 'Write a function to find the shared elements from the given two lists.',
      code: 'def similar_elements(test_tup1, test_tup2):\n  res = tuple(set(test_tup1) & set(test_tup2))\n  return (res) ',
      test_list: ['assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))', 'assert set(similar_elements((1, 2, 3, 4),(5, 4, 3, 7))) == set((3, 4))'],
      test_setup_code: '',
      challenge_test_list: [],
    }),
  });
  const tasks = TaskSet.load(dir);
  const server = await startTestServer(t, {}, await createCodingEnvDefinition({ poolSize: 1, tasks }));
  const humanEval = tasks.byId('HumanEval/x')!;
  const mbpp = tasks.byId('2')!;
  const { body } = await request(server, 'POST', '/evaluate', {
    items: [
      { task_id: humanEval.id, code: humanEval.solution },
      { task_id: humanEval.id, code: 'def below_zero(operations):\n    return False' },
      { task_id: mbpp.id, code: mbpp.solution },
      { split: 'mbpp', index: 0, code: 'def similar_elements(a, b):\n    return (4, 5)' },
    ],
  });
  t.match(body.results, [{ reward: 1, total: 1 }, { reward: 0, tests: [{ reason: 'AssertionError' }] }, { reward: 1, total: 2 }, { reward: 0.5 }]);
});
