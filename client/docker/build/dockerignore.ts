/**
 * `.dockerignore` matching with Docker's own rules (moby/patternmatcher, as the docker CLI applies
 * them to a build context), implemented here rather than taken from a library: the only matcher
 * installed, `@balena/dockerignore`, comes in as dockerode's dependency, not ours.
 *
 * - One pattern per line; `#` starts a comment line; blank lines are skipped; surrounding
 *   whitespace is trimmed.
 * - `!pattern` re-includes what an earlier pattern excluded; the last pattern that matches wins.
 * - Patterns are cleaned like Go's `filepath.Clean` (`./a//b/` is `a/b`), and a leading `/` is
 *   dropped: every pattern is relative to the context root.
 * - `*` matches any run of characters but `/`; `?` one character but `/`; `[a-z]`, `[!a-z]`
 *   classes; `\` escapes the next character; `**` matches any number of directories, zero
 *   included (`**\/*.md`, `docs/**`).
 * - A pattern that matches a directory also excludes everything under it (`node_modules`
 *   excludes `node_modules/a/b.js`).
 *
 * See https://docs.docker.com/build/concepts/context/#dockerignore-files
 */

interface Pattern {
  /** A `!` pattern. */
  exclusion: boolean;
  regex: RegExp;
  /** The cleaned text, for messages. */
  text: string;
}

/** A compiled `.dockerignore`. */
export class DockerIgnore {
  readonly #patterns: readonly Pattern[];

  /** Compile the text of a `.dockerignore` file. */
  constructor(text: string) {
    const patterns: Pattern[] = [];
    for (const line of text.split(/\r?\n/)) {
      let pattern = line.trim();
      if (pattern === '' || pattern.startsWith('#')) continue;
      const exclusion = pattern.startsWith('!');
      if (exclusion) pattern = pattern.slice(1).trim();
      if (pattern === '') continue;
      pattern = cleanPath(pattern);
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
      patterns.push({ exclusion, regex: compile(pattern), text: pattern });
    }
    this.#patterns = patterns;
  }

  /** Whether any `!` pattern exists: then an excluded directory must still be walked. */
  get hasExclusions(): boolean {
    return this.#patterns.some((pattern) => pattern.exclusion);
  }

  /** The cleaned patterns, in order (`!` kept). */
  get patterns(): string[] {
    return this.#patterns.map((pattern) => (pattern.exclusion ? `!${pattern.text}` : pattern.text));
  }

  /**
   * Whether `path` (relative to the context root, `/`-separated) is left out of the context: the
   * last pattern that matches it or one of its parent directories decides.
   */
  ignores(path: string): boolean {
    const file = cleanPath(path);
    const parts = file.split('/');
    const parents = parts.slice(0, -1).map((_, index) => parts.slice(0, index + 1).join('/'));
    let matched = false;
    for (const pattern of this.#patterns) {
      // An inclusion cannot change an excluded file, an exclusion a file nothing excluded yet.
      if (pattern.exclusion !== matched) continue;
      const match = pattern.regex.test(file) || parents.some((parent) => pattern.regex.test(parent));
      if (match) matched = !pattern.exclusion;
    }
    return matched;
  }
}

/** Go's `filepath.Clean` for `/`-separated paths: no empty, `.` or resolvable `..` segments. */
export function cleanPath(path: string): string {
  const rooted = path.startsWith('/');
  const out: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..' && out.length > 0 && out[out.length - 1] !== '..') out.pop();
    else if (segment === '..' && rooted) continue;
    else out.push(segment);
  }
  const joined = out.join('/');
  if (rooted) return `/${joined}`;
  return joined === '' ? '.' : joined;
}

/** Characters that mean something to RegExp but nothing to Docker's patterns. */
const REGEX_SPECIAL = new Set(['.', '+', '(', ')', '|', '{', '}', '$', '^']);

/** Translate one cleaned pattern to an anchored RegExp, as moby/patternmatcher does. */
function compile(pattern: string): RegExp {
  let source = '^';
  let inClass = false;
  for (let index = 0; index < pattern.length; index += 1) {
    const char = pattern[index]!;
    if (inClass) {
      if (char === ']') inClass = false;
      if (char === '\\' && index + 1 < pattern.length) {
        index += 1;
        source += `\\${pattern[index]!}`;
      } else source += char === '^' ? '\\^' : char;
      continue;
    }
    if (char === '*') {
      if (pattern[index + 1] === '*') {
        index += 1;
        // `**/` is `**`: eat the slash.
        if (pattern[index + 1] === '/') index += 1;
        source += index + 1 >= pattern.length ? '.*' : '(.*/)?';
      } else source += '[^/]*';
    } else if (char === '?') {
      source += '[^/]';
    } else if (char === '[') {
      inClass = true;
      source += '[';
      // Go's `[!a]` (and `[^a]`) negate.
      if (pattern[index + 1] === '!' || pattern[index + 1] === '^') {
        index += 1;
        source += '^';
      }
    } else if (char === '\\') {
      source += index + 1 < pattern.length ? `\\${pattern[++index]!}` : '\\\\';
    } else if (REGEX_SPECIAL.has(char)) {
      source += `\\${char}`;
    } else {
      source += char;
    }
  }
  if (inClass) source += ']';
  return new RegExp(`${source}$`, 's');
}
