/**
 * The target of the local store's download redirects: its files behind
 * short-lived signed links. No credentials are needed or read here; the link
 * is the capability.
 * Range requests are honoured so interrupted downloads can resume.
 */
import path from 'node:path';
import type { SendOptions } from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../errors.ts';
import type { FileStore } from './file-store.ts';
import { FILES_PREFIX, type UrlSigner } from './signed-url.ts';
import { contentTypeOf } from './store.ts';

/**
 * How a file is sent. It is read 1 MiB at a time (`highWaterMark`, passed on
 * to @fastify/send, though the plugin's types leave it out): curl fetching a
 * 271 MB file from this machine took 0.31-0.45 s with 1 MiB reads and
 * 0.31-0.69 s with the default 64 KiB (5 runs each, twice), and the server
 * 0.34 against 0.34-0.62 s of CPU. A smaller file is read in one piece.
 */
const SEND_OPTIONS: SendOptions & { highWaterMark: number } = { cacheControl: false, contentType: false, highWaterMark: 1024 * 1024 };

export function fileRoutes(app: FastifyInstance, deps: { signer: UrlSigner; store: FileStore }): void {
  app.get<{ Params: { '*': string }; Querystring: { expires?: string; signature?: string } }>(
    `${FILES_PREFIX}*`,
    async (req, reply) => {
      const key = req.params['*'];
      const q = req.query;
      const verdict = deps.signer.verify(key, typeof q.expires === 'string' ? q.expires : undefined, typeof q.signature === 'string' ? q.signature : undefined);
      if (verdict === 'invalid') throw new ApiError('LINK_INVALID', 'this download link is not valid; call the run\'s downloadUrl again for a fresh link');
      if (verdict === 'expired') throw new ApiError('LINK_INVALID', 'this download link has expired; call the run\'s downloadUrl again for a fresh link');
      if (!(await deps.store.servable(key))) {
        throw new ApiError('FILE_GONE', 'this export file is no longer kept; create the export again');
      }
      const name = path.basename(key);
      return reply
        .header('Content-Disposition', `attachment; filename="${name}"`)
        .header('Cache-Control', 'private, no-store')
        .header('Content-Type', contentTypeOf(key))
        .sendFile(key, SEND_OPTIONS);
    },
  );
}
