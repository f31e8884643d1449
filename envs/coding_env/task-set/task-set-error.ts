import { EnvboxError } from '../../../protocol/index.js';

/**
 * `INVALID_TASK_SET`: a task set that cannot be served (a file that does not parse, a line that fits
 * no format, a duplicate id); the server refuses to start with it. The message names the file, the
 * line and the field.
 */
export class TaskSetError extends EnvboxError {
  /** The file at fault. */
  readonly file: string;
  /** Its line, from 1; undefined when the whole file (or directory) is at fault. */
  readonly line: number | undefined;

  constructor(file: string, line: number | undefined, message: string, options?: { cause?: unknown }) {
    super('INVALID_TASK_SET', 0, `${line === undefined ? file : `${file} line ${line}`}: ${message}`, options);
    this.file = file;
    this.line = line;
  }
}
