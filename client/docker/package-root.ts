import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The name in the package.json that marks envbox's own root. */
const PACKAGE_NAME = 'envbox';
const MODULE_DIR = dirname(fileURLToPath(import.meta.url));

/**
 * The root of the envbox package: the nearest folder above this module whose package.json is
 * named `envbox`. The same from the sources (`client/docker/`, shared by `run/` and `build/`) and from the build
 * (`dist/client/docker/`), in a checkout or installed under `node_modules/envbox`.
 * @returns the folder, or undefined when there is none above `from`
 */
export function findPackageRoot(from: string = MODULE_DIR): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === PACKAGE_NAME) return dir;
      } catch {
        // An unreadable package.json on the way up is not ours; keep looking.
      }
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * The root of the envbox package (see {@link findPackageRoot}); where the sources' layout puts it
 * (`client/docker/../..`) if no package.json names it, so that importing the client never throws.
 */
export const PACKAGE_ROOT: string = findPackageRoot() ?? join(MODULE_DIR, '..', '..');
