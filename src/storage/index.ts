/** The export store the configuration names. */
import path from 'node:path';
import type { Config } from '../config.ts';
import { FileStore } from './file-store.ts';
import { UrlSigner } from './signed-url.ts';
import type { ExportStore } from './store.ts';

export type { ExportStore, PublishedFile, StoreUpload } from './store.ts';

export interface StoreOptions {
  /** The service's link-signing key; given in processes that serve the API. */
  readonly urlSecret?: Buffer | undefined;
}

export function openExportStore(config: Pick<Config, 'dataDir' | 'publicUrl'>, opts: StoreOptions = {}): ExportStore {
  return new FileStore(path.join(config.dataDir, 'exports'), {
    publicUrl: config.publicUrl,
    signer: opts.urlSecret ? new UrlSigner(opts.urlSecret) : undefined,
  });
}
