import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { SAMPLE_TASKS_DIR, TaskSet, TaskSetError } from '../../../envs/coding_env/index.js';
import { CLI } from '../../fixtures/cli-process.js';

const sampleDir = fileURLToPath(SAMPLE_TASKS_DIR);

t.test('the sample set: two splits, both languages, every task with tests and a reference solution', async (t) => {
  const set = TaskSet.load(sampleDir);
  t.same(set.splits(), [
    { name: 'test', type: 'test' },
    { name: 'train', type: 'train' },
  ]);
  t.equal(set.size, 19);
  const languages = new Set(set.all().map((task) => task.language));
  t.same([...languages].sort(), ['javascript', 'python']);
  for (const task of set.all()) {
    t.ok(task.tests.length > 0 && task.solution !== undefined && task.entryPoint !== undefined, task.id);
  }
  t.equal(set.tasks('test')![1]!.index, 1);
  t.equal(set.byId('js/add')!.split, 'train');
});

t.test('HumanEval lines: one check(candidate) test with the entry point; the solution is prompt + canonical', async (t) => {
  const dir = t.testdir({
    'humaneval.jsonl': [
      JSON.stringify({
        task_id: 'HumanEval/0',
        prompt: 'def double(x):\n    """Twice x."""\n',
        canonical_solution: '    return 2 * x\n',
        test: 'def check(candidate):\n    assert candidate(2) == 4\n    assert candidate(0) == 0\n',
        entry_point: 'double',
      }),
      '',
    ].join('\n'),
  });
  const set = TaskSet.load(join(dir, 'humaneval.jsonl'));
  t.same(set.splits(), [{ name: 'humaneval', type: 'validation' }]);
  const task = set.byId('HumanEval/0')!;
  t.match(task, { language: 'python', entryPoint: 'double', split: 'humaneval', index: 0 });
  t.same(task.tests, [{ name: 'check', code: 'def check(candidate):\n    assert candidate(2) == 4\n    assert candidate(0) == 0\n\ncheck(double)' }]);
  t.equal(task.solution, 'def double(x):\n    """Twice x."""\n    return 2 * x\n');
});

t.test('MBPP lines: one test per assert, the setup code, the function name from the tests', async (t) => {
  const dir = t.testdir({
    'train.jsonl': JSON.stringify({
      task_id: 11,
      text: 'Write a function to remove the first and last occurrence of a character from a string.',
      code: 'def remove_occ(s, ch):\n    s = s.replace(ch, "", 1)\n    i = s.rfind(ch)\n    return s if i < 0 else s[:i] + s[i + 1:]',
      test_list: ['assert remove_occ("hello","l") == "heo"', 'assert remove_occ("abcda","a") == "bcd"'],
      test_setup_code: 'import math',
      challenge_test_list: [],
    }),
  });
  const task = TaskSet.load(dir).byId('11')!;
  t.match(task, { language: 'python', entryPoint: 'remove_occ', setupCode: 'import math', split: 'train' });
  t.match(task.prompt, /named remove_occ\.$/);
  t.same(task.tests.map((test) => test.name), ['test_1', 'test_2']);
});

t.test('refusals name the file, the line and the field', async (t) => {
  const good = JSON.stringify({ id: 'a', language: 'python', prompt: 'p', test_code: 'assert True' });
  const cases: [string, string, RegExp][] = [
    ['not JSON', `${good}\n{"id": `, /x\.jsonl line 2: not valid JSON/],
    ['not an object', '[1, 2]', /x\.jsonl line 1: not a JSON object/],
    ['no format', '{"question": "?"}', /x\.jsonl line 1: fits no task format: expected envbox's/],
    ['bad field', JSON.stringify({ id: 'a', language: 'ruby', prompt: 'p', test_code: 'x' }), /x\.jsonl line 1: field "language": .* \(read as the envbox format\)/],
    ['unknown field', JSON.stringify({ id: 'a', language: 'python', prompt: 'p', test_code: 'x', tset: 1 }), /x\.jsonl line 1: .*tset/],
    ['tests and test_code', JSON.stringify({ id: 'a', language: 'python', prompt: 'p', test_code: 'x', tests: [{ code: 'y' }] }), /field "tests": give exactly one of tests/],
    ['mbpp without tests', JSON.stringify({ task_id: 1, text: 't', code: 'c', test_list: [] }), /field "test_list": .*mbpp format/],
    ['duplicate id', `${good}\n\n${good}`, /x\.jsonl line 3: field "id": duplicate id "a", first at .*x\.jsonl line 1/],
    ['empty', '\n\n', /x\.jsonl: no tasks in it/],
  ];
  for (const [name, content, message] of cases) {
    const dir = t.testdir({ 'x.jsonl': content });
    t.throws(() => TaskSet.load(join(dir, 'x.jsonl')), { name: 'TaskSetError', code: 'INVALID_TASK_SET', message }, name);
  }
  const dir = t.testdir({ 'train.jsonl': good, 'test.jsonl': good });
  t.throws(() => TaskSet.load(dir), { message: /test\.jsonl line 1: field "id": duplicate id "a", first at .*train\.jsonl line 1|train\.jsonl line 1: field "id": duplicate id "a", first at .*test\.jsonl line 1/ }, 'duplicates across splits');
  t.throws(() => TaskSet.load(t.testdir({ 'README.md': 'x' })), { message: /holds no \.jsonl file/ });
  t.throws(() => TaskSet.load('/nonexistent/tasks.jsonl'), TaskSetError);
});

t.test('a file is one split named after it', async (t) => {
  const dir = t.testdir({});
  const file = join(dir, 'mine.jsonl');
  writeFileSync(file, JSON.stringify({ id: 'x', language: 'javascript', prompt: 'p', tests: [{ code: 'if (1 !== 1) throw 0' }], timeout_s: 2 }));
  const task = TaskSet.load(file).byId('x')!;
  t.match(task, { split: 'mine', timeoutS: 2, tests: [{ name: 'test_1' }] });
});

t.test('envbox serve refuses to start with a bad task set, naming the file, line and field', async (t) => {
  const dir = t.testdir({ 'train.jsonl': `${JSON.stringify({ id: 'a', language: 'python', prompt: 'p', test_code: 'assert 1' })}\n${JSON.stringify({ id: 'b', language: 'python', prompt: '', test_code: 'assert 1' })}\n` });
  const failed = await promisify(execFile)(process.execPath, [CLI, 'serve', '--env', 'coding_env', '--port', '0', '--tasks', dir]).then(
    () => undefined,
    (error: { code: number; stderr: string }) => error,
  );
  t.equal(failed?.code, 1);
  t.match(failed?.stderr, /^envbox: cannot start: .*train\.jsonl line 2: field "prompt": .*\(read as the envbox format\)\n$/);
});
