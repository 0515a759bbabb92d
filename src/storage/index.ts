/** The export store the configuration names: local disk unless STORAGE_URL names a bucket. */
import path from 'node:path';
import type { Config } from '../config.ts';
import { FileStore } from './file-store.ts';
import { S3Store } from './s3-store.ts';
import { UrlSigner } from './signed-url.ts';
import type { ExportStore } from './store.ts';

export type { ExportStore, PublishedFile, StoreUpload } from './store.ts';
export { StoreError } from './store.ts';

export interface StoreOptions {
  /** The service's link-signing key; given in processes that serve the API. */
  readonly urlSecret?: Buffer | undefined;
}

export function openExportStore(config: Pick<Config, 'dataDir' | 'publicUrl' | 'storage'>, opts: StoreOptions = {}): ExportStore {
  if (config.storage.kind === 's3') return new S3Store(config.storage);
  return new FileStore(path.join(config.dataDir, 'exports'), {
    publicUrl: config.publicUrl,
    signer: opts.urlSecret ? new UrlSigner(opts.urlSecret) : undefined,
  });
}
