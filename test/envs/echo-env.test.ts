import t from 'tap';
import { ECHO_READY_MESSAGE, EchoAction, EchoEnvironment, EchoObservation, echoEnvDefinition } from '../../envs/index.js';

const signal = new AbortController().signal;

t.test('reset observes the ready message with reward 0 and a fresh episode', async (t) => {
  const env = new EchoEnvironment();
  const before = env.state().episode_id;
  const observation = env.reset({ signal });
  t.same(observation, { echoed_message: ECHO_READY_MESSAGE, message_length: 0, done: false, reward: 0, metadata: {} });
  t.equal(ECHO_READY_MESSAGE, 'Echo environment ready!');
  t.not(env.state().episode_id, before, 'each reset starts a new episode id');
  t.same(env.state().step_count, 0);
  env.reset({ signal, episode_id: 'mine' });
  t.equal(env.state().episode_id, 'mine');
  t.ok(EchoObservation.safeParse(observation).success, 'the observation matches its schema');
});

t.test('step echoes with reward 0.1 per code point and metadata {original_message, step}', async (t) => {
  const env = new EchoEnvironment();
  env.reset({ signal });
  t.same(env.step({ message: 'Hello', metadata: {} }), {
    echoed_message: 'Hello',
    message_length: 5,
    done: false,
    reward: 0.5,
    metadata: { original_message: 'Hello', step: 1 },
  });
  const emoji = env.step({ message: 'héllo 👋', metadata: {} });
  t.equal(emoji.message_length, 7, 'code points, as Python len(), not UTF-16 units');
  t.equal(emoji.reward, 7 * 0.1);
  t.equal(emoji.metadata.step, 2);
  const empty = env.step({ message: '', metadata: {} });
  t.equal(empty.reward, 0);
  t.same(env.state(), { episode_id: env.state().episode_id, step_count: 3 });
  env.reset({ signal });
  t.equal(env.state().step_count, 0, 'reset clears the step count');
});

t.test('the action schema rejects unknown fields and wrong types', async (t) => {
  t.ok(EchoAction.safeParse({ message: 'x' }).success);
  t.same(EchoAction.parse({ message: 'x' }).metadata, {}, 'metadata defaults to {}');
  t.notOk(EchoAction.safeParse({ message: 'x', extra: 1 }).success);
  t.notOk(EchoAction.safeParse({ message: 1 }).success);
  t.notOk(EchoAction.safeParse({}).success);
});

t.test('the definition serves the README', async (t) => {
  t.equal(echoEnvDefinition.name, 'echo_env');
  t.match(echoEnvDefinition.readme, /^# echo_env/);
  t.match(echoEnvDefinition.readme, /EchoObservation/);
});
