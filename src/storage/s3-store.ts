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
 * Downloads are presigned GET links on the store, with the file's name and
 * type; the service carries no file bytes.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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
import { spooledSections } from './sections.ts';
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

export class S3Store implements ExportStore {
  private readonly client: S3Client;
  private readonly where: S3Location;

  constructor(where: S3Location, client?: S3Client) {
    this.where = where;
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
    const parts = new PartWriter((PartNumber, body, abortSignal) => {
      const ChecksumSHA256 = createHash('sha256').update(body).digest('base64');
      return this.send('store a part of the file', () =>
        this.client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body: body, ChecksumSHA256 }), { abortSignal }),
      ).then((r) => ({ PartNumber, ETag: r.ETag, ChecksumSHA256 }));
    });
    const measure = new Measure();
    const written = pipeline(measure, parts);
    // Seen by publish or abort; not an unhandled rejection meanwhile.
    written.catch(() => undefined);
    let aborted: Promise<void> | undefined;
    return {
      stream: measure,
      sections: (count) => spooledSections(measure, count),
      publish: async () => {
        await written;
        const file: PublishedFile = measure.result();
        await this.send('complete the file', () =>
          this.client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts.completed() } })),
        );
        return file;
      },
      abort: () =>
        (aborted ??= (async () => {
          measure.destroy();
          await written.catch(() => undefined);
          await parts.settled();
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
 * Cuts what is written into parts of PART_BYTES (the last one shorter) and
 * uploads each through `upload`, one at a time, while the next part fills:
 * at most two parts are held in memory, whatever the file's size.
 */
class PartWriter extends Writable {
  private readonly upload: (partNumber: number, body: Buffer, signal: AbortSignal) => Promise<CompletedPart>;
  /** Stops the part in flight when the stream is destroyed (the attempt aborted). */
  private readonly stop = new AbortController();
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private next = 1;
  private inFlight: Promise<void> = Promise.resolve();
  private readonly done: CompletedPart[] = [];

  constructor(upload: (partNumber: number, body: Buffer, signal: AbortSignal) => Promise<CompletedPart>) {
    super({ highWaterMark: 1024 * 1024 });
    this.upload = upload;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes < PART_BYTES) return cb();
    this.ship().then(() => cb(), cb);
  }

  override _final(cb: (e?: Error | null) => void): void {
    // The last part, even empty when nothing else was written (an upload needs one part).
    const last = this.pendingBytes > 0 || this.next === 1 ? this.ship() : Promise.resolve();
    last.then(() => this.inFlight).then(() => cb(), cb);
  }

  override _destroy(error: Error | null, cb: (e?: Error | null) => void): void {
    this.stop.abort();
    cb(error);
  }

  /** Waits for the part in flight, then starts uploading what is pending; nothing once destroyed. */
  private async ship(): Promise<void> {
    await this.inFlight;
    if (this.destroyed) throw new Error('the upload was aborted');
    const body = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    const partNumber = this.next++;
    this.inFlight = this.upload(partNumber, body, this.stop.signal).then((p) => {
      this.done.push(p);
    });
    // Seen by the next ship or _final; not an unhandled rejection meanwhile.
    this.inFlight.catch(() => undefined);
  }

  /** The uploaded parts in order, for CompleteMultipartUpload. */
  completed(): CompletedPart[] {
    return [...this.done].sort((a, b) => a.PartNumber! - b.PartNumber!);
  }

  /** Resolves when no part is uploading any more, whatever its outcome (call after destroying: no new part starts then). */
  async settled(): Promise<void> {
    for (let current = this.inFlight; ; current = this.inFlight) {
      await current.catch(() => undefined);
      if (current === this.inFlight) return;
    }
  }
}
