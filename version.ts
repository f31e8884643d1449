import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** envbox's own package.json: its version, and the ranges a new environment package takes (`envbox init`). */
export const MANIFEST: { version: string; dependencies?: Record<string, string>; devDependencies?: Record<string, string> } = JSON.parse(
  readFileSync(new URL(import.meta.url.endsWith('.ts') ? './package.json' : '../package.json', import.meta.url), 'utf8'),
) as { version: string };

/** The version of the envbox package, read from its package.json. */
export const VERSION: string = MANIFEST.version;

/** The folder of envbox's package.json: a checkout, or `node_modules/envbox` where it is installed. */
export const PACKAGE_DIR: string = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '.' : '..', import.meta.url));
