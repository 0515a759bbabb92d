/** The export store the configuration names: local disk unless STORAGE_URL names a bucket. */
import path from 'node:path';
import type { Config } from '../config.ts';
import { FileStore } from './file-store.ts';
import { UrlSigner } from './signed-url.ts';
import type { ExportStore } from './store.ts';

export type { ExportStore, PublishedFile, StoreUpload } from './store.ts';
export { StoreError } from './store.ts';

export interface StoreOptions {
  /** The service's link-signing key; given in processes that serve the API. */
  readonly urlSecret?: Buffer | undefined;
}

export async function openExportStore(config: Pick<Config, 'dataDir' | 'publicUrl' | 'storage'>, opts: StoreOptions = {}): Promise<ExportStore> {
  if (config.storage.kind === 's3') {
    // The AWS SDK is loaded only where a bucket is configured: it is a third of the service's start-up imports.
    const { S3Store } = await import('./s3-store.ts');
    return new S3Store(config.storage);
  }
  return new FileStore(path.join(config.dataDir, 'exports'), {
    publicUrl: config.publicUrl,
    signer: opts.urlSecret ? new UrlSigner(opts.urlSecret) : undefined,
  });
}
