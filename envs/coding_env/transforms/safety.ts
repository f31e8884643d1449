import type { RewardTerm, RewardTransform } from './transform.js';
import type { CodeAction } from '../models.js';

/** Code patterns the safety transform penalises by default. */
export const DEFAULT_DANGEROUS_PATTERNS: readonly RegExp[] = [
  /\bimport\s+os\b/,
  /\bfrom\s+os\b/,
  /\bimport\s+subprocess\b/,
  /\bfrom\s+subprocess\b/,
  /\beval\s*\(/,
  /\bexec\s*\(/,
  /__import__/,
  /\bopen\s*\(/,
];
/** @default -1.0 */
export const DEFAULT_SAFETY_PENALTY = -1.0;

/** Options of {@link SafetyTransform}. */
export interface SafetyTransformOptions {
  patterns?: readonly RegExp[];
  penalty?: number;
}

/**
 * Penalises code that matches a dangerous pattern and names the first match in
 * `metadata.safety_violation`. A reward signal, not a security layer.
 */
export class SafetyTransform implements RewardTransform {
  readonly name = 'safety';
  readonly #patterns: readonly RegExp[];
  readonly #penalty: number;

  constructor(options: SafetyTransformOptions = {}) {
    this.#patterns = options.patterns ?? DEFAULT_DANGEROUS_PATTERNS;
    this.#penalty = options.penalty ?? DEFAULT_SAFETY_PENALTY;
  }

  apply(action: CodeAction): RewardTerm {
    const match = this.#patterns.find((pattern) => pattern.test(action.code));
    if (match === undefined) return { reward: 0 };
    return { reward: this.#penalty, metadata: { safety_violation: match.source } };
  }
}
