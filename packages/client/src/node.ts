/**
 * The client on Node.js: everything of the browser entry, and downloads to
 * a path or a stream. To a path, the bytes go to `<path>.part`, a cut
 * transfer resumes where it stopped with a Range request, the size and (with
 * `expect`) the SHA-256 the run published are checked, and only a whole,
 * checked file is renamed into place.
 */
import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { asNetworkError, CareReportsClient as BrowserClient, CareReportsError, checkFile, sleep, type RunStatus } from './index.ts';

export * from './index.ts';

export interface DownloadOptions {
  /** The running byte count, and the total when known. */
  readonly onBytes?: (received: number, total: number | null) => void;
  /** The run's status: the file's size and SHA-256 there are checked against what arrived (a mismatch is an error, and a path is not written). */
  readonly expect?: Pick<RunStatus, 'fileBytes' | 'fileSha256'>;
}

export class CareReportsClient extends BrowserClient {
  /** Downloads a completed run's file to `dest`, a path or a stream; returns its size in bytes. */
  async download(downloadUrl: string, dest: string | Writable, opts: DownloadOptions = {}): Promise<number> {
    const link = await this.downloadLink(downloadUrl);
    if (typeof dest !== 'string') {
      const file = await this.openFile(link);
      const hash = createHash('sha256');
      // A stream given is left open: it may be standard output.
      const n = await pump(file.body, dest, 0, (x) => opts.onBytes?.(x, file.totalBytes), false, hash).catch((e: unknown) => {
        throw asNetworkError(e);
      });
      if (file.totalBytes !== null && n !== file.totalBytes) throw new CareReportsError('network', `received ${n} of ${file.totalBytes} bytes`);
      checkFile(n, hash.digest('hex'), opts.expect);
      return n;
    }
    const part = `${dest}.part`;
    // A place that cannot be written is the caller's to fix, not a transfer to retry.
    await fsp.rm(part, { force: true });
    await fsp.writeFile(part, '').catch((e: unknown) => {
      throw new CareReportsError('bad-input', `cannot write ${dest}: ${(e as Error).message}`);
    });
    for (let attempt = 0; ; attempt++) {
      const have = (await fsp.stat(part).catch(() => undefined))?.size ?? 0;
      try {
        const file = await this.openFile(link, { from: have });
        if (have > 0 && file.status !== 206) await fsp.rm(part, { force: true }); // the server ignored Range: start over
        const out = fs.createWriteStream(part, { flags: file.status === 206 ? 'a' : 'w' });
        // A whole transfer is hashed as it arrives; a resumed one is read back once complete.
        const hash = file.status === 200 && opts.expect ? createHash('sha256') : undefined;
        await pump(file.body, out, file.status === 206 ? have : 0, (n) => opts.onBytes?.(n, file.totalBytes), true, hash);
        const size = (await fsp.stat(part)).size;
        if (file.totalBytes !== null && size !== file.totalBytes) throw new Error(`received ${size} of ${file.totalBytes} bytes`);
        if (opts.expect) {
          try {
            checkFile(size, hash ? hash.digest('hex') : await sha256Of(part), opts.expect);
          } catch (e) {
            await fsp.rm(part, { force: true });
            throw e;
          }
        }
        await fsp.rename(part, dest);
        return size;
      } catch (e) {
        if ((e instanceof CareReportsError && e.kind !== 'network') || attempt >= this.retries) throw asNetworkError(e);
        await sleep(Math.min(250 * 2 ** attempt, 5000));
      }
    }
  }
}

/** Copies a response body into `out`, reporting the running byte count (starting at `offset`); `out`'s errors reject. */
async function pump(body: ReadableStream<Uint8Array>, out: Writable, offset: number, onBytes: (n: number) => void, end: boolean, hash?: Hash): Promise<number> {
  let n = 0;
  await pipeline(
    async function* () {
      for await (const chunk of body) {
        n += chunk.length;
        hash?.update(chunk);
        onBytes(offset + n);
        yield chunk;
      }
    },
    out,
    { end },
  );
  return n;
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
