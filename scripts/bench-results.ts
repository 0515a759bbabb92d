/** Where the benchmarks keep their figures: bench-results/<prefix><time>.json, so that runs can be compared. */
import fsp from 'node:fs/promises';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '..');

/** Writes `results` and returns the file's path relative to the project. */
export async function writeBenchResults(prefix: string, results: unknown): Promise<string> {
  const dir = path.join(ROOT, 'bench-results');
  await fsp.mkdir(dir, { recursive: true });
  const file = path.join(dir, `${prefix}${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await fsp.writeFile(file, JSON.stringify(results, null, 2));
  return path.relative(ROOT, file);
}
