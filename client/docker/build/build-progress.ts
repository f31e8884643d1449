import { progressBarLine, type ProgressOutput } from '../../progress-bar.js';

/** What an image build reports while it runs. */
export type BuildProgressEvent =
  /** The context is being sent: `sentBytes` of about `totalBytes`. */
  | { type: 'context'; sentBytes: number; totalBytes: number; fileCount: number }
  /** A Dockerfile step began (`Step 3/9 : COPY dist/ ./dist/`). */
  | { type: 'step'; step: number; totalSteps: number; instruction: string }
  /** A line of build output (a RUN's output, ` ---> Using cache`, a pull's status). */
  | { type: 'output'; line: string }
  /** The image is built and tagged. */
  | { type: 'done'; tag: string; imageId: string; durationMs: number; cachedSteps: number; totalSteps: number };

/** A sink for {@link BuildProgressEvent}s that draws them. */
export interface BuildProgressReporter {
  /** Draw one event. */
  report(event: BuildProgressEvent): void;
  /** End the drawing (a progress bar's line is finished with a newline). */
  finish(): void;
}

export type { ProgressOutput } from '../../progress-bar.js';

/** Redraw a TTY bar at most this often while the context streams. @default 100 ms */
const REDRAW_INTERVAL_MS = 100;

/**
 * A progress reporter for `out`: on a TTY one line redrawn in place, a bar over the context upload
 * and then over the Dockerfile's steps; otherwise plain lines (every step and every line of
 * output), fit for CI logs.
 */
export function createBuildProgressReporter(out: ProgressOutput): BuildProgressReporter {
  return out.isTTY === true ? new BarReporter(out) : new LineReporter(out);
}

class LineReporter implements BuildProgressReporter {
  readonly #out: ProgressOutput;
  #contextAnnounced = false;
  #contextDone = false;

  constructor(out: ProgressOutput) {
    this.#out = out;
  }

  report(event: BuildProgressEvent): void {
    switch (event.type) {
      case 'context':
        if (!this.#contextAnnounced) {
          this.#contextAnnounced = true;
          this.#out.write(`Sending build context: ${event.fileCount} files, ${megabytes(event.totalBytes)}\n`);
        }
        if (!this.#contextDone && event.sentBytes >= event.totalBytes) {
          this.#contextDone = true;
          this.#out.write(`Sent build context (${megabytes(event.sentBytes)})\n`);
        }
        break;
      case 'step':
        this.#out.write(`Step ${event.step}/${event.totalSteps} : ${event.instruction}\n`);
        break;
      case 'output':
        this.#out.write(`${event.line}\n`);
        break;
      case 'done':
        this.#out.write(
          `Built ${event.tag} (${event.imageId.replace(/^sha256:/, '').slice(0, 12)}) in ${seconds(event.durationMs)}, ` +
            `${event.cachedSteps}/${event.totalSteps} steps from cache\n`,
        );
        break;
    }
  }

  finish(): void {}
}

class BarReporter implements BuildProgressReporter {
  readonly #out: ProgressOutput;
  #lastDraw = 0;
  #drawn = false;

  constructor(out: ProgressOutput) {
    this.#out = out;
  }

  report(event: BuildProgressEvent): void {
    switch (event.type) {
      case 'context': {
        const now = performance.now();
        const complete = event.sentBytes >= event.totalBytes;
        if (!complete && now - this.#lastDraw < REDRAW_INTERVAL_MS) return;
        this.#lastDraw = now;
        const label = `context ${megabytes(event.sentBytes)}/${megabytes(event.totalBytes)}`;
        this.#draw(event.sentBytes / Math.max(1, event.totalBytes), label);
        break;
      }
      case 'step':
        this.#draw((event.step - 1) / Math.max(1, event.totalSteps), `step ${event.step}/${event.totalSteps} ${event.instruction}`);
        break;
      case 'output':
        // A TTY shows the bar only; the output comes with the error if the build fails.
        break;
      case 'done':
        this.#draw(1, `built ${event.tag} in ${seconds(event.durationMs)} (${event.cachedSteps}/${event.totalSteps} steps cached)`);
        this.finish();
        break;
    }
  }

  finish(): void {
    if (this.#drawn) this.#out.write('\n');
    this.#drawn = false;
  }

  #draw(fraction: number, label: string): void {
    this.#out.write(progressBarLine(fraction, label, this.#out.columns));
    this.#drawn = true;
  }
}

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
