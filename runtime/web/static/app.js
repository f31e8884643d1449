// envbox web interface: drive any environment by hand over the page's own /ws session.
// Plain DOM, no framework. Untrusted text (outputs, README) only ever goes through textContent.

/** Properties every OpenEnv action carries that a person does not fill in. */
const PROTOCOL_FIELDS = new Set(['metadata']);
/** Reconnect delays after a dropped connection, in ms (the last one repeats). */
const RECONNECT_DELAYS_MS = [500, 1000, 2000, 5000];
const INDENT = '    ';

const $ = (id) => document.getElementById(id);

/** Create an element with attributes and children (strings become text nodes). */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'className') element.className = value;
    else if (key === 'text') element.textContent = value;
    else if (key.startsWith('on')) element.addEventListener(key.slice(2), value);
    else element.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) element.append(child);
  return element;
}

// ---- schema → form ---------------------------------------------------------------------------

/** A schema without its `null` alternative: `{schema, nullable}`. */
function unwrap(schema) {
  if (schema === null || typeof schema !== 'object') return { schema: {}, nullable: false };
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(alternatives)) {
    const rest = alternatives.filter((s) => s?.type !== 'null');
    if (rest.length === 1) return { schema: { ...rest[0], default: schema.default, description: schema.description ?? rest[0].description }, nullable: rest.length < alternatives.length };
  }
  if (Array.isArray(schema.type)) {
    const types = schema.type.filter((t) => t !== 'null');
    if (types.length === 1) return { schema: { ...schema, type: types[0] }, nullable: types.length < schema.type.length };
  }
  return { schema, nullable: false };
}

/** The kind of input a property gets. */
function kindOf(name, schema) {
  if (Array.isArray(schema.enum)) return 'enum';
  if (schema.type === 'boolean') return 'boolean';
  if (schema.type === 'integer' || schema.type === 'number') return 'number';
  if (schema.type === 'string') return name === 'code' ? 'code' : 'string';
  return 'json';
}

/**
 * One labelled input for property `name`; returns `{element, read, focus}` where `read()` gives
 * `{value}` to send or `{}` to leave the property out.
 * @throws {Error} from read() when a JSON field does not parse
 */
function field(prefix, name, rawSchema, required) {
  const { schema, nullable } = unwrap(rawSchema);
  const kind = kindOf(name, schema);
  const id = `${prefix}-${name}`;
  const label = h('label', { for: id, text: schema.title ?? name });
  const description = schema.description ? h('span', { className: 'desc', id: `${id}-desc`, text: schema.description }) : '';
  const common = { id, name, 'aria-describedby': schema.description ? `${id}-desc` : undefined, 'data-kind': kind };
  let input;
  let read;
  switch (kind) {
    case 'enum': {
      input = h('select', common);
      if (!required || nullable) input.append(h('option', { value: '', text: '(default)' }));
      for (const option of schema.enum) input.append(h('option', { value: JSON.stringify(option), text: String(option) }));
      if (schema.default !== undefined && schema.default !== null) input.value = JSON.stringify(schema.default);
      read = () => (input.value === '' ? {} : { value: JSON.parse(input.value) });
      break;
    }
    case 'boolean':
      input = h('input', { ...common, type: 'checkbox' });
      input.checked = schema.default === true;
      read = () => ({ value: input.checked });
      return { element: h('div', { className: 'field checkbox' }, input, label, description), read, focus: () => input.focus() };
    case 'number':
      input = h('input', { ...common, type: 'number', step: schema.type === 'integer' ? '1' : 'any', inputmode: schema.type === 'integer' ? 'numeric' : 'decimal' });
      if (typeof schema.default === 'number') input.value = String(schema.default);
      read = () => (input.value.trim() === '' ? {} : { value: Number(input.value) });
      break;
    case 'code':
      input = h('textarea', { ...common, className: 'code', spellcheck: 'false', autocapitalize: 'off', autocomplete: 'off', rows: '12' });
      if (typeof schema.default === 'string') input.value = schema.default;
      input.addEventListener('keydown', codeKeys);
      read = () => ({ value: input.value });
      break;
    case 'string':
      input = h('input', { ...common, type: 'text', autocomplete: 'off' });
      if (typeof schema.default === 'string') input.value = schema.default;
      read = () => (input.value === '' && !required ? {} : { value: input.value });
      break;
    default:
      input = h('textarea', { ...common, className: 'json', spellcheck: 'false', placeholder: 'JSON' });
      if (schema.default !== undefined) input.value = JSON.stringify(schema.default);
      read = () => {
        if (input.value.trim() === '') return {};
        try {
          return { value: JSON.parse(input.value) };
        } catch (error) {
          throw new Error(`Field ${name} must be JSON: ${error.message}`);
        }
      };
  }
  // An empty string is a valid value, so only choices are marked required.
  if (required && kind === 'enum') input.required = true;
  return { element: h('div', { className: 'field' }, label, description, input), read, focus: () => input.focus() };
}

/** Build fields for `schema`'s properties that `keep(name, schema)` accepts; returns a reader of the object. */
function buildForm(container, prefix, schema, keep) {
  const required = new Set(schema?.required ?? []);
  const fields = [];
  for (const [name, property] of Object.entries(schema?.properties ?? {})) {
    if (!keep(name, unwrap(property).schema)) continue;
    const built = field(prefix, name, property, required.has(name));
    container.append(built.element);
    fields.push({ name, ...built });
  }
  return {
    fields,
    read() {
      const value = {};
      for (const f of fields) {
        const got = f.read();
        if ('value' in got) value[f.name] = got.value;
      }
      return value;
    },
  };
}

/** Code editor keys: Tab indents (Shift+Tab dedents), Escape then Tab leaves, Ctrl/Cmd+Enter steps. */
function codeKeys(event) {
  const area = event.currentTarget;
  if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    $('action-form').requestSubmit();
    return;
  }
  if (event.key === 'Escape') {
    area.dataset.escaped = 'true';
    return;
  }
  if (event.key !== 'Tab') {
    delete area.dataset.escaped;
    return;
  }
  // After Escape, Tab moves focus as usual so keyboard users are never trapped in the editor.
  if (area.dataset.escaped === 'true') {
    delete area.dataset.escaped;
    return;
  }
  event.preventDefault();
  const { selectionStart: start, selectionEnd: end, value } = area;
  const lineStart = value.lastIndexOf('\n', start - 1) + 1;
  if (event.shiftKey) {
    const line = value.slice(lineStart);
    const remove = line.startsWith(INDENT) ? INDENT.length : (line.match(/^ */)?.[0].length ?? 0);
    const cut = Math.min(remove, INDENT.length);
    if (cut > 0) {
      area.setRangeText('', lineStart, lineStart + cut, 'preserve');
      area.setSelectionRange(Math.max(lineStart, start - cut), Math.max(lineStart, end - cut));
    }
    return;
  }
  area.setRangeText(INDENT, start, end, 'end');
  area.dispatchEvent(new Event('input', { bubbles: true }));
}

// ---- rendering ---------------------------------------------------------------------------------

/** A value as a node: strings preformatted, everything else as JSON. */
function valueNode(value) {
  if (value === null || value === undefined) return h('span', { className: 'muted', text: 'null' });
  if (typeof value === 'string') return value === '' ? h('span', { className: 'muted', text: '(empty)' }) : h('pre', { text: value });
  if (typeof value === 'object') return h('pre', { text: JSON.stringify(value, null, 2) });
  return h('span', { text: String(value) });
}

/** An observation reply (`{observation, reward, done, metadata}`) as a definition list. */
function observationNode(reply) {
  const list = h('dl', { className: 'obs' });
  const row = (name, node) => list.append(h('dt', { text: name }), h('dd', { 'data-field': name }, node));
  for (const [name, value] of Object.entries(reply.observation ?? {})) {
    if (name === 'metadata') continue;
    if (name === 'exit_code' && typeof value === 'number') {
      row(name, h('span', { className: `exit-code ${value === 0 ? 'exit-ok' : 'exit-nonzero'}`, text: value === 0 ? '0' : `${value} (non-zero)` }));
    } else if (name === 'stderr' && typeof value === 'string' && value !== '') {
      row(name, h('pre', { className: 'stderr', text: value }));
    } else {
      row(name, valueNode(value));
    }
  }
  // envbox's extras travel in metadata (OpenEnv's clients reject unknown observation fields); a
  // trailing expression's value is worth a row of its own.
  const result = reply.metadata?.result;
  if (typeof result === 'string') row('result', h('pre', { text: result }));
  row('reward', valueNode(reply.reward));
  row('done', valueNode(reply.done));
  if (reply.metadata && Object.keys(reply.metadata).length > 0) row('metadata', valueNode(reply.metadata));
  return list;
}

function errorNode(error) {
  return h('p', { className: 'error', text: `${error.code ?? 'ERROR'}: ${error.message ?? 'unknown error'}` });
}

/** Copy `text` to the clipboard; falls back to a hidden textarea where the Clipboard API is missing (plain http). */
async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // Permission refused: try the fallback below.
    }
  }
  const area = h('textarea', { readonly: true, 'aria-hidden': 'true', style: undefined });
  area.value = text;
  area.className = 'offscreen';
  document.body.append(area);
  area.select();
  let copied = false;
  try {
    copied = document.execCommand('copy');
  } catch {
    copied = false;
  }
  area.remove();
  return copied;
}

let historyCount = 0;

/** Add an entry to the history, newest first: its summary, the request, the reply, a Copy button. */
function addHistory(kind, request, reply) {
  historyCount += 1;
  const first = kind === 'step' ? summaryOf(request) : JSON.stringify(request);
  const failed = reply.type === 'error';
  const summary = h('summary', { text: `#${historyCount} ${kind}${failed ? ' (error)' : ''}: ${first}` });
  const copy = h('button', { type: 'button', className: 'secondary', text: 'Copy' });
  const record = { kind, [kind === 'step' ? 'action' : 'request']: request, [failed ? 'error' : 'reply']: reply.data };
  copy.addEventListener('click', async () => {
    const ok = await copyText(JSON.stringify(record, null, 2));
    copy.textContent = ok ? 'Copied' : 'Copy failed';
    setTimeout(() => (copy.textContent = 'Copy'), 1500);
  });
  copy.setAttribute('aria-label', `Copy ${kind} #${historyCount} as JSON`);
  const details = h(
    'details',
    { open: true, 'data-kind': kind },
    summary,
    h('div', { className: 'entry-tools' }, copy),
    h('h4', { text: kind === 'step' ? 'Action' : 'Reset request' }),
    h('pre', { className: 'box', text: JSON.stringify(request, null, 2) }),
    h('h4', { text: failed ? 'Error' : 'Observation' }),
    failed ? errorNode(reply.data) : observationNode(reply.data),
  );
  const list = $('history');
  // Only the newest entry stays open; older ones fold away but remain one click (or Enter) away.
  for (const older of list.querySelectorAll('details[open]')) older.open = false;
  list.prepend(h('li', {}, details));
}

function addNotice(text) {
  $('history').prepend(h('li', { className: 'notice', text }));
}

function summaryOf(action) {
  const text = typeof action.code === 'string' ? action.code : JSON.stringify(action);
  const line = text.split('\n').find((l) => l.trim() !== '') ?? '';
  return line.length > 80 ? `${line.slice(0, 77)}…` : line;
}

function showError(message) {
  const box = $('error');
  box.textContent = message;
  box.hidden = message === '';
}

// ---- the WebSocket session ---------------------------------------------------------------------

let socket;
/** Requests awaiting their reply; the server answers strictly in order. */
let pending = [];
let connections = 0;
let attempt = 0;
let busy = false;

function setConnection(state, text) {
  const badge = $('connection');
  badge.dataset.state = state;
  badge.textContent = text;
  document.body.dataset.connection = state;
  updateButtons();
}

function updateButtons() {
  const usable = socket?.readyState === WebSocket.OPEN && !busy;
  $('reset').disabled = !usable;
  $('step').disabled = !usable;
  document.body.dataset.busy = String(busy);
}

function connect() {
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  const ws = new WebSocket(url);
  socket = ws;
  ws.addEventListener('open', () => {
    connections += 1;
    attempt = 0;
    if (connections === 1) {
      setConnection('open', 'Connected: a session of its own');
    } else {
      setConnection('open', 'Reconnected: a fresh session (the previous episode is gone; press Reset)');
      addNotice('Connection lost; reconnected into a fresh session. Press Reset to start a new episode.');
      $('state').textContent = '(new session: press Reset)';
    }
  });
  ws.addEventListener('message', (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    const waiter = pending.shift();
    if (waiter) waiter.resolve(message);
    else if (message.type === 'error') showError(`${message.data?.code}: ${message.data?.message}`);
  });
  ws.addEventListener('close', (event) => {
    if (socket !== ws) return;
    for (const waiter of pending) waiter.reject(new Error('The connection closed before the reply came.'));
    pending = [];
    busy = false;
    const delay = RECONNECT_DELAYS_MS[Math.min(attempt, RECONNECT_DELAYS_MS.length - 1)];
    attempt += 1;
    const why = event.reason ? ` (${event.reason})` : '';
    setConnection('closed', `Disconnected${why}; reconnecting in ${Math.round(delay / 100) / 10} s…`);
    setTimeout(connect, delay);
  });
  updateButtons();
}

/** Send one message and resolve with its reply. */
function send(message) {
  return new Promise((resolve, reject) => {
    if (socket?.readyState !== WebSocket.OPEN) {
      reject(new Error('Not connected; wait for the connection to come back.'));
      return;
    }
    pending.push({ resolve, reject });
    socket.send(JSON.stringify(message));
  });
}

/** Run `request` (reset or step), show its observation, record it, then refresh the state. */
async function act(kind, data) {
  if (busy) return;
  busy = true;
  updateButtons();
  showError('');
  try {
    const reply = await send({ type: kind, data });
    addHistory(kind, data, reply);
    const target = $('observation');
    target.replaceChildren(reply.type === 'error' ? errorNode(reply.data) : observationNode(reply.data));
    if (reply.type === 'error') showError(`${reply.data?.code}: ${reply.data?.message}`);
    const state = await send({ type: 'state' });
    $('state').textContent = state.type === 'state' ? JSON.stringify(state.data, null, 2) : `${state.data?.code}: ${state.data?.message}`;
  } catch (error) {
    showError(error.message);
  } finally {
    busy = false;
    updateButtons();
  }
}

// ---- start -------------------------------------------------------------------------------------

async function start() {
  updateButtons();
  connect();
  const [metadata, schemas] = await Promise.all(['/metadata', '/schema'].map(async (path) => {
    const response = await fetch(path, { headers: { accept: 'application/json' } });
    if (!response.ok) throw new Error(`GET ${path} answered ${response.status}`);
    return response.json();
  }));
  $('env-name').textContent = metadata.name;
  document.title = `${metadata.name} · envbox`;
  $('env-description').textContent = metadata.description ?? '';
  $('env-readme').textContent = metadata.readme ?? '(no README)';

  const action = buildForm($('action-fields'), 'action', schemas.action, (name) => !PROTOCOL_FIELDS.has(name));
  // At reset, a person picks among choices (e.g. coding_env's language); ids and seeds are for agents.
  const reset = buildForm($('reset-fields'), 'reset', schemas.reset, (_name, schema) => Array.isArray(schema.enum));
  const hasCode = action.fields.some((f) => f.name === 'code');
  $('step-hint').textContent = hasCode ? 'Ctrl/Cmd+Enter steps; Tab indents (Escape, then Tab, leaves the editor).' : '';

  $('reset-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void act('reset', reset.read());
  });
  $('action-form').addEventListener('submit', (event) => {
    event.preventDefault();
    let data;
    try {
      data = action.read();
    } catch (error) {
      showError(error.message);
      return;
    }
    void act('step', data);
  });
  action.fields[0]?.focus();
  document.body.dataset.ready = 'true';
}

start().catch((error) => showError(`The page could not start: ${error.message}`));
