// @ts-check
/**
 * For `npm test`: each test file, and each service or command a test starts,
 * is a Node process that would strip the types of the same hundred
 * TypeScript files again (a third of a CPU-second each time, loading the
 * stripper included). The runner loads this module into every such process
 * (`--import`, with CARE_TS_CACHE naming a directory): each file's stripped
 * JavaScript is kept there under a hash of its source, so that only the
 * first process strips it. Node's own stripper makes it, in the mode that
 * keeps every position, so the code that runs and its stack traces are the
 * same as without the cache.
 *
 * A plain JavaScript module: loading it must not load the stripper.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { registerHooks, stripTypeScriptTypes } from 'node:module';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const dir = process.env['CARE_TS_CACHE'];

/** @param {string} source */
function strip(source) {
  // Node warns once per process that the function is experimental; the warning would land in outputs tests compare.
  const emit = Object.getOwnPropertyDescriptor(process, 'emitWarning');
  process.emitWarning = () => {};
  try {
    return stripTypeScriptTypes(source, { mode: 'strip' });
  } finally {
    if (emit) Object.defineProperty(process, 'emitWarning', emit);
    else Reflect.deleteProperty(process, 'emitWarning');
  }
}

/**
 * The stripped JavaScript of the TypeScript file at `file`, from the cache or
 * made now and kept.
 * @param {string} cacheDir
 * @param {string} file
 */
export function strippedSource(cacheDir, file) {
  const source = fs.readFileSync(file, 'utf8');
  const key = createHash('sha256').update(`${process.version}\n${source}`).digest('hex');
  const cached = path.join(cacheDir, `${key}.js`);
  try {
    return fs.readFileSync(cached, 'utf8');
  } catch {
    const js = strip(source);
    // Written whole under another name, then renamed: a process reading at the same time sees all of it or nothing.
    // A cache that cannot be written (removed at the end of the run, a full disk) only costs the next process a strip.
    const temp = `${cached}.${process.pid}.tmp`;
    try {
      fs.writeFileSync(temp, js);
      fs.renameSync(temp, cached);
    } catch {
      fs.rmSync(temp, { force: true });
    }
    return js;
  }
}

if (dir) {
  registerHooks({
    load(url, context, nextLoad) {
      if (!url.startsWith('file:') || !url.endsWith('.ts') || url.includes('/node_modules/')) return nextLoad(url, context);
      return { format: 'module', source: strippedSource(dir, fileURLToPath(url)), shortCircuit: true };
    },
  });
}
