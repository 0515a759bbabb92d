/** Files written in sections, as an export's parallel slices write them: test bytes, and writers taking turns. */
import type { Writable } from 'node:stream';

/** Bytes that differ at every offset of every section, so a misplaced piece shows. */
export function bytesOf(section: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (i * 7 + section * 31 + (i >> 8)) & 0xff;
  return b;
}

/**
 * Writes each section in chunks of varied sizes up to `maxChunk`, taking
 * turns between sections as parallel slices do, then ends every writer
 * (unless `end` is false).
 */
export async function writeInTurns(writers: readonly Writable[], contents: readonly Buffer[], opts: { maxChunk?: number; end?: boolean } = {}): Promise<void> {
  const maxChunk = opts.maxChunk ?? 9 * 1024;
  const offsets = contents.map(() => 0);
  let chunk = 1;
  while (offsets.some((o, i) => o < contents[i]!.length)) {
    for (const [i, w] of writers.entries()) {
      const body = contents[i]!;
      if (offsets[i]! >= body.length) continue;
      chunk = ((chunk * 37 + 11) % maxChunk) + 1;
      const piece = body.subarray(offsets[i], offsets[i]! + chunk);
      offsets[i]! += piece.length;
      await new Promise<void>((resolve, reject) => w.write(piece, (e) => (e ? reject(e) : resolve())));
    }
  }
  if (opts.end === false) return;
  await Promise.all(writers.map((w) => new Promise<void>((resolve, reject) => w.end(() => resolve()).once('error', reject))));
}
