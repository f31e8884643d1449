/** The writable a progress report draws on; a TTY gets a bar redrawn in place. */
export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Width of the bar itself, in characters. @default 24 */
const BAR_WIDTH = 24;

/**
 * One progress bar line for a TTY: `\r`, erase the line, `[#####.....]  40% label`, cut to the
 * terminal's width, so that each call redraws it in place. The caller ends it with a newline.
 */
export function progressBarLine(fraction: number, label: string, columns: number | undefined): string {
  const clamped = Math.min(1, Math.max(0, fraction));
  const filled = Math.round(clamped * BAR_WIDTH);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${String(Math.round(clamped * 100)).padStart(3)}% `;
  const width = Math.max(20, (columns ?? 80) - 1);
  const line = `${bar}${label.replace(/\s+/g, ' ')}`;
  return `\r\x1b[K${line.length > width ? `${line.slice(0, width - 1)}…` : line}`;
}
