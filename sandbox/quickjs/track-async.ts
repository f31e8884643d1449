import { parse, type Node } from 'acorn';
import { ancestor } from 'acorn-walk';

/**
 * The guest global that turns the promise of an async function's body into one the prelude
 * tracks (see prelude.js: `__envbox_async`).
 */
export const TRACK_ASYNC_GLOBAL = '__envbox_async';

interface FunctionNode extends Node {
  async: boolean;
  generator: boolean;
  expression?: boolean;
  body: Node;
}

interface Edit {
  at: number;
  /** Push order: the walk visits inner functions before the ones around them. */
  order: number;
  /** Characters removed at `at`. */
  remove: number;
  insert: string;
}

/**
 * Rewrite a step's async functions so that a rejection nobody handles is reported, as Node
 * reports it: QuickJS's host rejection tracker is not reachable through quickjs-emscripten, and
 * the promises of native async functions are made inside the engine, out of the prelude's sight.
 * `async function f(a) { B }` becomes `function f(a) { return __envbox_async(async () => { B }) }`
 * (the arrow keeps `this`, `arguments` and `super`); async arrows and methods likewise. Only text
 * is inserted (and the `async` keyword removed), so line numbers stay. Async generators are left
 * alone. Code that does not parse is returned as it is: QuickJS reports its SyntaxError.
 */
export function trackAsyncFunctions(code: string): string {
  if (!code.includes('async')) return code;
  let program: Node;
  try {
    program = parse(code, { ecmaVersion: 'latest', sourceType: 'script', allowAwaitOutsideFunction: true, allowHashBang: true });
  } catch {
    return code;
  }
  const edits: Edit[] = [];
  const visit = (node: Node, ancestors: Node[]): void => {
    const fn = node as FunctionNode;
    if (!fn.async || fn.generator) return;
    const parent = ancestors.at(-2) as (Node & { key?: Node; method?: boolean; value?: Node }) | undefined;
    const isMethod = parent !== undefined && parent.value === node && (parent.type === 'MethodDefinition' || (parent.type === 'Property' && parent.method === true));
    // The `async` keyword: at the start of a function or an arrow; before the key of a method.
    const keywordFrom = isMethod ? parent.start : fn.start;
    const keywordTo = isMethod ? parent.key!.start : fn.body.start;
    const keyword = code.slice(keywordFrom, keywordTo).search(/\basync\b/);
    if (keyword === -1) return;
    edits.push({ order: edits.length, at: keywordFrom + keyword, remove: 'async'.length, insert: '' });
    if (fn.type === 'ArrowFunctionExpression') {
      edits.push({ order: edits.length, at: fn.body.start, remove: 0, insert: `${TRACK_ASYNC_GLOBAL}(async () => ${fn.expression === true ? '(' : ''}` });
      edits.push({ order: edits.length, at: fn.body.end, remove: 0, insert: `${fn.expression === true ? ')' : ''})` });
      return;
    }
    edits.push({ order: edits.length, at: fn.body.start + 1, remove: 0, insert: ` return ${TRACK_ASYNC_GLOBAL}(async () => {` });
    edits.push({ order: edits.length, at: fn.body.end - 1, remove: 0, insert: '}); ' });
  };
  ancestor(program, { Function: visit });
  if (edits.length === 0) return code;
  // Apply from the end so that earlier offsets stay valid. At one offset: the removal of an inner
  // `async` before any insertion there, then the outer function's text before the inner's (applied
  // first, it ends up last: an inner closing parenthesis comes before the outer one).
  edits.sort((a, b) => b.at - a.at || b.remove - a.remove || b.order - a.order);
  let out = code;
  for (const edit of edits) out = out.slice(0, edit.at) + edit.insert + out.slice(edit.at + edit.remove);
  return out;
}
