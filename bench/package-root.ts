import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { BenchError } from './bench-error.js';

/**
 * The directory of the `envbox` package.json above this file (works from `bench/` and `dist/bench/`).
 * @throws {BenchError} when there is none
 */
export function findPackageRoot(): string {
  const PackageJson = z.object({ name: z.string() });
  let directory = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(directory, 'package.json');
    if (existsSync(candidate) && PackageJson.safeParse(JSON.parse(readFileSync(candidate, 'utf8'))).data?.name === 'envbox') return directory;
    const parent = dirname(directory);
    if (parent === directory) throw new BenchError(`No package.json of envbox above ${fileURLToPath(import.meta.url)}.`);
    directory = parent;
  }
}
