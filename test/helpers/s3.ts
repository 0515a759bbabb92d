/**
 * An S3-compatible server for tests (s3rver, from npm), speaking the S3 REST
 * protocol over HTTP. `npm test` starts one for the whole run; a file run
 * alone starts its own. Each test gets a bucket of its own.
 *
 * s3rver accepts any well-formed signature on presigned links. The request
 * log of ./s3-server.ts is how a test sees which calls the service made, and
 * ListMultipartUploads (answered by that wrapper) which uploads are open.
 */
import fs from 'node:fs/promises';
import { after } from 'node:test';
import { CreateBucketCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { uniqueName } from './cluster.ts';
import { startS3Server, type S3Server } from './s3-server.ts';

/** s3rver's fixed credentials. */
export const S3_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' } as const;

let own: Promise<S3Server> | undefined;

/** The run's server (scripts/test.ts), or one of this file's own. */
async function server(): Promise<Pick<S3Server, 'endpoint' | 'logFile'>> {
  const endpoint = process.env['CARE_TEST_S3_ENDPOINT'];
  const logFile = process.env['CARE_TEST_S3_LOG'];
  if (endpoint && logFile) return { endpoint, logFile };
  own ??= startS3Server().then((s) => {
    after(() => s.stop());
    return s;
  });
  return own;
}

export interface TestBucket {
  readonly bucket: string;
  readonly client: S3Client;
  /** The service environment that puts export files in this bucket, under `exports/`. */
  readonly env: Record<string, string>;
  /** The store's request log lines that mention this bucket. */
  requests(): Promise<string[]>;
  /** Keys of the multipart uploads open in the bucket. */
  openUploads(): Promise<string[]>;
  /** Keys of the objects in the bucket. */
  objects(): Promise<string[]>;
}

/** A new, empty bucket; the service's SDK finds s3rver's credentials in the environment. */
export async function testBucket(): Promise<TestBucket> {
  const { endpoint, logFile } = await server();
  Object.assign(process.env, S3_CREDENTIALS);
  const bucket = uniqueName('b').replace('_', '-');
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: S3_CREDENTIALS.AWS_ACCESS_KEY_ID, secretAccessKey: S3_CREDENTIALS.AWS_SECRET_ACCESS_KEY } });
  after(() => client.destroy());
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return {
    bucket,
    client,
    env: { STORAGE_URL: `s3://${bucket}/exports`, S3_ENDPOINT: endpoint, S3_FORCE_PATH_STYLE: 'true', ...S3_CREDENTIALS },
    requests: async () => (await fs.readFile(logFile, 'utf8')).split('\n').filter((l) => l.includes(`/${bucket}`)),
    objects: async () => ((await client.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key!),
    openUploads: async () => ((await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).map((u) => u.Key!),
  };
}
