import { readFileSync } from 'node:fs';

/** The version of the envbox package, read from its package.json. */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL(import.meta.url.endsWith('.ts') ? './package.json' : '../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;
