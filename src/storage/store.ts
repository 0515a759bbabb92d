/**
 * The seam between the service and where export files live. The worker
 * writes a file through `begin` and makes it visible with `publish`, the
 * sweeper removes what expired or was left behind, and the download route
 * asks for a short-lived link. Which store runs is chosen by configuration
 * (`storage/index.ts`); nothing outside `storage/` knows which it is.
 */
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Sectioned } from './sections.ts';

/** What a published file is: its size and SHA-256, measured as it streamed through. */
export interface PublishedFile {
  readonly bytes: number;
  /** Lowercase hex. */
  readonly sha256: string;
}

/** One attempt's file while it is written (as one stream, or in sections); nothing is visible under its key before `publish`. */
export interface StoreUpload extends Sectioned {
  /** Makes the whole file visible under its key at once. */
  publish(): Promise<PublishedFile>;
  /** Discards whatever was written; safe after publish failed and safe twice. */
  abort(): Promise<void>;
}

export interface ExportStore {
  /** Creates what the store needs (directories); fails with a clear message when the store cannot be used. */
  init(): Promise<void>;
  /**
   * Starts writing the file `key`; `label` names the attempt in temporary
   * names. `started` receives the upload's handle (what `discard` needs)
   * before any byte is stored, so a caller can record it somewhere that
   * outlives this process.
   */
  begin(key: string, label: string, started: (handle: string) => Promise<void>): Promise<StoreUpload>;
  /** Discards the upload of an attempt that died, by its handle; one already gone is fine. */
  discard(handle: string): Promise<void>;
  /** Deletes a published file; absent is fine. */
  remove(key: string): Promise<void>;
  /** Deletes what attempts killed mid-write left behind, older than `ageMs`; returns how many. */
  removeStale(ageMs: number): Promise<number>;
  /** An absolute URL that serves the published file `key` for `ttlSeconds`. */
  downloadUrl(key: string, ttlSeconds: number): Promise<string>;
  /** Registers the HTTP routes the store's links point at, if they point at this service. */
  routes(app: FastifyInstance): void;
}

/**
 * The store failed while writing a file. The attempt fails and is retried;
 * once retries are spent, the run's reason says the file could not be
 * stored (the message, for the log, says why).
 */
export class StoreError extends Error {
  override name = 'StoreError';
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.csv': 'text/csv; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.xlsx': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
};

/** The media type a file is served with, by its extension, whichever store serves it. */
export function contentTypeOf(key: string): string {
  return CONTENT_TYPES[/\.[a-z]+$/.exec(key)?.[0] ?? ''] ?? 'application/octet-stream';
}

/** A pass-through that counts and hashes the bytes it carries. */
export class Measure extends Transform {
  private readonly hash = createHash('sha256');
  private count = 0;
  private readonly onBytes: ((total: number) => void) | undefined;

  /** `onBytes` is told the running total as bytes pass. */
  constructor(onBytes?: (total: number) => void) {
    super();
    this.onBytes = onBytes;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.update(chunk);
    cb(null, chunk);
  }

  /** Counts and hashes bytes that follow, in the file, what passed through. */
  update(chunk: Buffer): void {
    this.hash.update(chunk);
    this.count += chunk.length;
    this.onBytes?.(this.count);
  }

  /** Size and digest; call once, after the stream has ended. */
  result(): PublishedFile {
    return { bytes: this.count, sha256: this.hash.digest('hex') };
  }
}
