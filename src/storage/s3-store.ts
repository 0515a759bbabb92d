/**
 * Export files in S3-compatible object storage, for API nodes and workers on
 * many machines. Only standard S3 calls are used, so the same code runs on
 * AWS S3, MinIO, Ceph RGW, R2 or GCS interoperability.
 *
 * A file is written as a multipart upload that this module drives itself:
 * the upload is created first and its id handed to the caller (the worker
 * records it, so the sweeper can abort the upload of an attempt that was
 * killed, without listing the bucket), then the bytes go up in parts of a
 * bounded size, one part filling while the previous one uploads. Nothing is
 * visible under the key until the upload is completed, and an aborted upload
 * leaves no parts behind. Each part carries its SHA-256, which the store
 * checks as it receives it.
 *
 * A file written in sections (an export's parallel slices) uploads each
 * section at once into its own range of part numbers. S3 wants every part
 * but the last to be at least 5 MiB, so a section keeps its first 5 MiB and
 * its short tail back; once all sections have ended, each tail and the next
 * section's head go up as one part numbered between the two ranges. The
 * file's SHA-256 needs its bytes in order: sections after the first are also
 * spooled to local temporary files, read back through the hash at the end.
 *
 * Downloads are presigned GET links on the store, with the file's name and
 * type; the service carries no file bytes.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { UserError } from '../errors.ts';
import { openSpools, type Sections, type Spool } from './sections.ts';
import { contentTypeOf, Measure, StoreError, type ExportStore, type PublishedFile, type StoreUpload } from './store.ts';

export interface S3Location {
  readonly bucket: string;
  /** Prepended to every key, without a trailing slash; empty for the bucket's root. */
  readonly prefix: string;
  /** Endpoint of an S3-compatible store; absent for AWS S3. */
  readonly endpoint?: string | undefined;
  readonly region: string;
  /** Bucket in the path (most S3-compatible stores) rather than in the host name. */
  readonly forcePathStyle: boolean;
}

/** Parts are at least 5 MiB on S3 (but the last); this bounds what one upload holds in memory to two parts. */
export const PART_BYTES = 8 * 1024 * 1024;
/** The least size S3 takes for a part that is not the last. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
/** Part numbers of one upload run from 1 to this. */
const MAX_PARTS = 10_000;

/** Part sizes, for tests on small files; S3 itself refuses parts under 5 MiB but the last. */
export interface PartSizes {
  /** A part is uploaded once this many bytes are pending. */
  readonly partBytes: number;
  /** Held back at the start of each section after the first: what a junction part needs at least. */
  readonly minPartBytes: number;
  /** Part numbers of one upload run from 1 to this (S3: 10,000). */
  readonly maxParts?: number;
}

export class S3Store implements ExportStore {
  private readonly client: S3Client;
  private readonly where: S3Location;
  private readonly sizes: PartSizes;

  constructor(where: S3Location, client?: S3Client, sizes: PartSizes = { partBytes: PART_BYTES, minPartBytes: MIN_PART_BYTES }) {
    this.where = where;
    this.sizes = sizes;
    this.client =
      client ??
      new S3Client({
        region: where.region,
        ...(where.endpoint ? { endpoint: where.endpoint } : {}),
        forcePathStyle: where.forcePathStyle,
        // Credentials come from the standard chain: environment, profile, instance or task role.
        // A store that stops answering fails the call (and the attempt, which is retried) instead of holding the run forever.
        requestHandler: { connectionTimeout: 5000, requestTimeout: 120_000, throwOnRequestTimeout: true },
        maxAttempts: 3,
      });
  }

  /** Fails with one clear line when the bucket cannot be used. */
  async init(): Promise<void> {
    const bucket = this.where.bucket;
    const at = this.where.endpoint ? ` at ${this.where.endpoint}` : '';
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: bucket }));
    } catch (e) {
      const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if ((e as Error).name === 'CredentialsProviderError') {
        throw new UserError(`no credentials for the object store: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run with an instance or task role`, 'AUTH');
      }
      if (status === 404) throw new UserError(`the bucket ${bucket} does not exist${at}; create it, or fix STORAGE_URL`);
      if (status === 403 || status === 401) {
        throw new UserError(
          `access to the bucket ${bucket}${at} was refused: check the credentials (AWS_ACCESS_KEY_ID, AWS_PROFILE or the instance role), that they may s3:ListBucket it, and that the bucket is yours`,
          'AUTH',
        );
      }
      const region = (e as { $response?: { headers?: Record<string, string> } }).$response?.headers?.['x-amz-bucket-region'];
      if (region && region !== this.where.region) throw new UserError(`the bucket ${bucket} is in ${region}, not ${this.where.region}: set S3_REGION=${region}`);
      if (status === undefined) {
        throw new UserError(`the object store${at || ` for ${bucket}`} cannot be reached (${(e as Error).message}); check S3_ENDPOINT, S3_REGION and the network`, 'NETWORK');
      }
      throw new UserError(`the object store answered ${status} for the bucket ${bucket}${at}: ${(e as Error).name}`, 'NETWORK');
    }
  }

  async begin(key: string, _label: string, started: (handle: string) => Promise<void>): Promise<StoreUpload> {
    const Key = this.objectKey(key);
    const Bucket = this.where.bucket;
    const created = await this.send('start the upload', () =>
      this.client.send(new CreateMultipartUploadCommand({ Bucket, Key, ContentType: contentTypeOf(key), ChecksumAlgorithm: 'SHA256' })),
    );
    const UploadId = created.UploadId!;
    const handle = JSON.stringify({ key: Key, uploadId: UploadId });
    try {
      await started(handle);
    } catch (e) {
      await this.discard(handle).catch(() => undefined);
      throw e;
    }
    const uploadPart = (PartNumber: number, body: Buffer, abortSignal: AbortSignal): Promise<CompletedPart> => {
      const ChecksumSHA256 = createHash('sha256').update(body).digest('base64');
      return this.send('store a part of the file', () =>
        this.client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body: body, ChecksumSHA256 }), { abortSignal }),
      ).then((r) => ({ PartNumber, ETag: r.ETag, ChecksumSHA256 }));
    };
    let file: SectionedFile | undefined;
    const start = (spools: Spool[]) => {
      if (file) throw new Error('this upload is already being written');
      return (file = new SectionedFile(uploadPart, spools, this.sizes));
    };
    let aborted: Promise<void> | undefined;
    return {
      get stream() {
        return (file ?? start([])).writers[0]!;
      },
      sections: async (count) => {
        const spools = await openSpools(count - 1);
        if (aborted) {
          await Promise.all(spools.map((s) => s.close()));
          throw new Error('the upload was aborted');
        }
        return start(spools);
      },
      publish: async () => {
        if (!file) throw new Error('nothing was written to this upload');
        const { published, parts } = await file.assemble();
        await this.send('complete the file', () => this.client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } })));
        return published;
      },
      abort: () =>
        (aborted ??= (async () => {
          await file?.discard();
          await this.discard(handle);
        })()),
    };
  }

  /**
   * The handle names the upload: `{ key, uploadId }`. An upload already gone
   * may have been completed (its answer lost, or its worker killed right
   * after), so the attempt's object is deleted too. The key is the attempt's
   * own, and a completing attempt forgets its record before its run is
   * closed, so this never deletes a run's published file.
   */
  async discard(handle: string): Promise<void> {
    const { key, uploadId } = JSON.parse(handle) as { key: string; uploadId: string };
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.where.bucket, Key: key, UploadId: uploadId }));
    } catch (e) {
      if ((e as Error).name !== 'NoSuchUpload' && (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 404) throw e;
      await this.client.send(new DeleteObjectCommand({ Bucket: this.where.bucket, Key: key }));
    }
  }

  async remove(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.where.bucket, Key: this.objectKey(key) }));
  }

  /**
   * Uploads of attempts that died are found through their records, not by
   * listing; an upload whose record was never written is left to the
   * bucket's lifecycle rule (AbortIncompleteMultipartUpload, see the README).
   */
  removeStale(): Promise<number> {
    return Promise.resolve(0);
  }

  downloadUrl(key: string, ttlSeconds: number): Promise<string> {
    const command = new GetObjectCommand({
      Bucket: this.where.bucket,
      Key: this.objectKey(key),
      ResponseContentDisposition: `attachment; filename="${path.posix.basename(key)}"`,
      ResponseContentType: contentTypeOf(key),
      ResponseCacheControl: 'private, no-store',
    });
    return getSignedUrl(this.client, command, { expiresIn: ttlSeconds });
  }

  /** Links point at the store: the service serves no file route. */
  routes(): void {}

  private objectKey(key: string): string {
    return this.where.prefix ? `${this.where.prefix}/${key}` : key;
  }

  /** Runs a store call; a failure becomes a StoreError whose reason a customer can read. */
  private async send<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (e) {
      throw new StoreError(`could not ${what} in the bucket ${this.where.bucket}: ${(e as Error).name}: ${(e as Error).message}`, { cause: e });
    }
  }
}

/**
 * A file written as ordered sections, each uploaded at once into its own
 * range of part numbers (see the top of this file). Section 0 is hashed as
 * it passes; the others are spooled as well, and hashed in order at the end.
 */
class SectionedFile implements Sections {
  readonly writers: readonly Writable[];
  readonly done: Promise<void>;
  private readonly parts: PartWriter[];
  private readonly measure = new Measure();
  private readonly spools: readonly Spool[];
  private readonly upload: UploadPart;
  /** Part numbers per section: section i numbers its own parts from i × span + 1, and the junction after it is (i + 1) × span. */
  private readonly span: number;
  private readonly stopping = new AbortController();
  /** The junction parts being uploaded by `assemble`. */
  private readonly junctions: Promise<CompletedPart>[] = [];

  constructor(upload: UploadPart, spools: readonly Spool[], sizes: PartSizes) {
    const count = spools.length + 1;
    this.upload = upload;
    this.spools = spools;
    this.span = Math.floor((sizes.maxParts ?? MAX_PARTS) / count);
    this.parts = Array.from({ length: count }, (_, i) => new PartWriter(upload, {
      first: i * this.span + 1,
      last: (i + 1) * this.span - 1,
      head: i === 0 ? 0 : sizes.minPartBytes,
      partBytes: sizes.partBytes,
    }));
    const later = spools.map((spool, j) => new Tee(spool.writable(), this.parts[j + 1]!));
    this.writers = [this.measure, ...later];
    this.done = Promise.all([pipeline(this.measure, this.parts[0]!), ...later.map((w) => finished(w))]).then(() => undefined);
    // Seen by whoever awaits `done` or assembles; not an unhandled rejection meanwhile.
    this.done.catch(() => undefined);
  }

  /** Once every section has ended: the file's size and SHA-256, and the parts that complete it (the junctions uploaded now). */
  async assemble(): Promise<{ published: PublishedFile; parts: CompletedPart[] }> {
    await this.done;
    for (const spool of this.spools) for await (const chunk of spool.readable()) this.measure.update(chunk);
    const published = this.measure.result();
    await Promise.all(this.spools.map((s) => s.close()));
    const parts = this.parts.flatMap((p) => p.uploaded);
    // Bytes between ranges: a section's tail and the heads (and tails) after it, up to a section that uploaded parts.
    let junction: Buffer[] = [];
    for (const [i, writer] of this.parts.entries()) {
      junction.push(writer.head);
      if (writer.uploaded.length > 0 && i > 0) {
        const body = Buffer.concat(junction);
        // What precedes section i's first part: it holds section i's head, so it is a full part.
        if (body.length > 0) this.junctions.push(this.upload(i * this.span, body, this.stopping.signal));
        junction = [];
      }
      junction.push(writer.tail);
    }
    const last = Buffer.concat(junction);
    // The file's last part, of any size; an upload needs one part even for an empty file.
    if (last.length > 0 || parts.length + this.junctions.length === 0) this.junctions.push(this.upload(this.parts.length * this.span, last, this.stopping.signal));
    parts.push(...(await Promise.all(this.junctions)));
    return { published, parts: parts.sort((a, b) => a.PartNumber! - b.PartNumber!) };
  }

  /** Stops every section and the parts in flight. */
  stop(reason: Error): void {
    this.stopping.abort(reason);
    for (const w of [...this.writers, ...this.parts]) w.destroy(reason);
  }

  /** Stops everything, waits until no part is uploading, and closes the spools. */
  async discard(): Promise<void> {
    this.stop(new Error('the upload was aborted'));
    await Promise.all(this.parts.map((p) => p.settled()));
    await Promise.allSettled(this.junctions);
    await Promise.all(this.spools.map((s) => s.close()));
  }
}

type UploadPart = (partNumber: number, body: Buffer, signal: AbortSignal) => Promise<CompletedPart>;

/**
 * Cuts what is written into parts of at least `partBytes` (see partSize) and
 * uploads each, one at a time while the next fills, numbered from `first` on.
 * The first `head` bytes are held back, and so is what is left at the end
 * (`tail`, shorter than a part): the file puts them around this writer's
 * parts. At most two parts and the head are held in memory.
 */
class PartWriter extends Writable {
  private readonly upload: UploadPart;
  private readonly range: { readonly first: number; readonly last: number; readonly head: number; readonly partBytes: number };
  /** Stops the part in flight when the stream is destroyed (the attempt aborted). */
  private readonly stop = new AbortController();
  private heads: Buffer[] = [];
  private headBytes = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private next: number;
  private inFlight: Promise<void> = Promise.resolve();
  readonly uploaded: CompletedPart[] = [];

  constructor(upload: UploadPart, range: { first: number; last: number; head: number; partBytes: number }) {
    super({ highWaterMark: 1024 * 1024 });
    this.upload = upload;
    this.range = range;
    this.next = range.first;
  }

  /** The bytes held back at the start. */
  get head(): Buffer {
    return Buffer.concat(this.heads, this.headBytes);
  }

  /** The bytes left after the last part. */
  get tail(): Buffer {
    return Buffer.concat(this.pending, this.pendingBytes);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (this.headBytes < this.range.head) {
      const take = Math.min(chunk.length, this.range.head - this.headBytes);
      this.heads.push(chunk.subarray(0, take));
      this.headBytes += take;
      chunk = chunk.subarray(take);
      if (chunk.length === 0) return cb();
    }
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes < this.partSize()) return cb();
    this.ship().then(() => cb(), cb);
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.inFlight.then(() => cb(), cb);
  }

  override _destroy(error: Error | null, cb: (e?: Error | null) => void): void {
    this.stop.abort();
    cb(error);
  }

  /**
   * The size the next part waits for: `partBytes` through the first tenth of
   * the range, one more `partBytes` with each further tenth. A section far
   * larger than an even share of the file (its slice took most rows) thus
   * fits in its range: 5.5 times as many bytes as with parts of one size.
   */
  private partSize(): number {
    const span = this.range.last - this.range.first + 1;
    return this.range.partBytes * (1 + Math.floor(((this.next - this.range.first) * 10) / span));
  }

  /** Waits for the part in flight, then starts uploading what is pending; nothing once destroyed. */
  private async ship(): Promise<void> {
    await this.inFlight;
    if (this.destroyed) throw new Error('the upload was aborted');
    if (this.next > this.range.last) {
      throw new StoreError(`a section of the file is larger than ${this.range.last - this.range.first + 1} parts; export it in fewer slices (EXPORT_SLICES)`);
    }
    const body = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    const partNumber = this.next++;
    this.inFlight = this.upload(partNumber, body, this.stop.signal).then((p) => {
      this.uploaded.push(p);
    });
    // Seen by the next ship or _final; not an unhandled rejection meanwhile.
    this.inFlight.catch(() => undefined);
  }

  /** Resolves when no part is uploading any more, whatever its outcome (call after destroying: no new part starts then). */
  async settled(): Promise<void> {
    for (let current = this.inFlight; ; current = this.inFlight) {
      await current.catch(() => undefined);
      if (current === this.inFlight) return;
    }
  }
}

/** Writes each chunk to both streams, taking the next once both have it; ends and destroys both. */
class Tee extends Writable {
  private readonly a: Writable;
  private readonly b: Writable;

  constructor(a: Writable, b: Writable) {
    super({ highWaterMark: 256 * 1024 });
    this.a = a;
    this.b = b;
    // A failure of either is this stream's.
    for (const w of [a, b]) w.on('error', (e) => this.destroy(e));
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    Promise.all([write(this.a, chunk), write(this.b, chunk)]).then(() => cb(), cb);
  }

  override _final(cb: (e?: Error | null) => void): void {
    Promise.all([finished(this.a.end()), finished(this.b.end())]).then(() => cb(), cb);
  }

  override _destroy(error: Error | null, cb: (e?: Error | null) => void): void {
    // Once finished, both have ended well; destroying a spool's stream then would close its file before it is read back.
    if (!this.writableFinished) {
      this.a.destroy();
      this.b.destroy();
    }
    cb(error);
  }
}

function write(w: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => w.write(chunk, (e) => (e ? reject(e) : resolve())));
}
