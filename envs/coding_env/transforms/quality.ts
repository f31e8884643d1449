import type { CodeAction, CodeObservation } from '../models.js';
import type { RewardTerm, RewardTransform } from './transform.js';

/** @default 100 characters */
export const DEFAULT_CONCISE_MAX_CHARS = 100;
/** @default +0.1 */
export const DEFAULT_CONCISE_BONUS = 0.1;
/** @default -0.2 */
export const DEFAULT_SYNTAX_ERROR_PENALTY = -0.2;

/** Options of {@link QualityTransform}. */
export interface QualityTransformOptions {
  conciseMaxChars?: number;
  conciseBonus?: number;
  syntaxErrorPenalty?: number;
}

// A syntax error of the step itself ends stderr: Python's runner ends with the exception line
// ("SyntaxError: invalid syntax"); QuickJS adds the one frame of the step's own source
// ("SyntaxError: unexpected token in expression: '='\n    at step-3.js:1:9"). A SyntaxError thrown
// at run time (JavaScript's JSON.parse) has deeper frames and is not one.
const SYNTAX_ERROR = /(?:^|\n)(?:SyntaxError|IndentationError|TabError): [^\n]*\n(?: {4}at step-\d+\.js:\d+:\d+\n)?$/;

/** Rewards concise code (+0.1 at most 100 characters) and penalises syntax errors (-0.2). */
export class QualityTransform implements RewardTransform {
  readonly name = 'quality';
  readonly #options: Required<QualityTransformOptions>;

  constructor(options: QualityTransformOptions = {}) {
    this.#options = {
      conciseMaxChars: options.conciseMaxChars ?? DEFAULT_CONCISE_MAX_CHARS,
      conciseBonus: options.conciseBonus ?? DEFAULT_CONCISE_BONUS,
      syntaxErrorPenalty: options.syntaxErrorPenalty ?? DEFAULT_SYNTAX_ERROR_PENALTY,
    };
  }

  apply(action: CodeAction, observation: CodeObservation): RewardTerm {
    let reward = 0;
    if (action.code.length <= this.#options.conciseMaxChars) reward += this.#options.conciseBonus;
    const syntaxError = observation.exit_code === 1 && SYNTAX_ERROR.test(observation.stderr);
    if (syntaxError) reward += this.#options.syntaxErrorPenalty;
    return syntaxError ? { reward, metadata: { syntax_error: true } } : { reward };
  }
}
