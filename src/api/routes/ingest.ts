/**
 * The ingest API: POST /api/v2/ingest/{entity} with NDJSON or a JSON array of
 * records. HTTP Basic with the INGEST permission; the company is the caller's,
 * never the body's. A batch is validated whole and written in one
 * transaction, or rejected whole with each bad record's line, field and reason.
 * `?dryRun=true` answers what the batch would do and writes nothing.
 *
 * Everything the headers and URL can settle (credentials, permission,
 * entity, charset) is checked before a byte of the body is read; a request
 * refused then is answered without its body, and its connection closed.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { didYouMean } from '../../did-you-mean.ts';
import { ApiError, badParameter } from '../../errors.ts';
import { ENTITIES, findEntity, type EntityDef } from '../../ingest/entities.ts';
import { ndjsonRecords, type SourceRecord } from '../../ingest/read.ts';
import { refusal } from '../../ingest/rejection.ts';
import { ingestBatch } from '../../ingest/store.ts';
import { MAX_BODY_BYTES, MAX_RECORDS, validateRecords } from '../../ingest/validate.ts';
import { requirePermission, type Authenticator, type Principal } from '../auth.ts';
import { pass } from '../envelope.ts';
import type pg from 'pg';

const TYPES = ['application/x-ndjson', 'application/json'];

export function ingestRoutes(app: FastifyInstance, deps: { pool: pg.Pool; auth: Authenticator }): void {
  void app.register((scope, _opts, done) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(TYPES, { parseAs: 'buffer', bodyLimit: MAX_BODY_BYTES }, (_req, body, done) => done(null, body));
    scope.addContentTypeParser('*', (req, _payload, done) =>
      done(new ApiError('UNSUPPORTED_MEDIA_TYPE', `Content-Type '${req.headers['content-type'] ?? ''}' is not accepted; send application/x-ndjson (one record per line) or application/json (an array of records)`)),
    );
    scope.setErrorHandler((error: Error & { code?: string }) => {
      if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        throw new ApiError('PAYLOAD_TOO_LARGE', `the body is over the limit of ${MAX_BODY_BYTES} bytes; split it into smaller batches, or load files with care-reports import`);
      }
      throw error;
    });

    type Ingest = { Params: { entity: string } };
    const admitted = new WeakMap<FastifyRequest, { principal: Principal; entity: EntityDef; dryRun: boolean }>();
    const admit = async (req: FastifyRequest<Ingest>, reply: FastifyReply) => {
      try {
        const principal = await deps.auth.authenticate(req);
        requirePermission(principal, 'INGEST');
        const dryRun = dryRunOf(req.query);
        const entity = findEntity(req.params.entity);
        if (!entity) {
          const names = ENTITIES.map((e) => e.name);
          throw new ApiError('NOT_FOUND', `there is no entity '${req.params.entity}'${didYouMean(req.params.entity, names)}; ingest one of ${names.join(', ')}`);
        }
        const charset = /charset=([^;\s]+)/i.exec(req.headers['content-type'] ?? '')?.[1];
        if (charset && charset.toLowerCase() !== 'utf-8') throw new ApiError('UNSUPPORTED_MEDIA_TYPE', `charset ${charset} is not accepted; send UTF-8`);
        admitted.set(req, { principal, entity, dryRun });
      } catch (e) {
        // The body is not read, and not skipped either: the connection ends with the answer.
        void reply.header('Connection', 'close');
        throw e;
      }
    };

    scope.post<Ingest>('/api/v2/ingest/:entity', { onRequest: admit }, async (req) => {
      const { principal, entity, dryRun } = admitted.get(req)!;
      const body = req.body as Buffer | undefined;
      if (!body || body.length === 0) throw badParameter('the body is empty; send records as NDJSON or a JSON array');
      let text: string;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(body);
      } catch {
        throw badParameter('the body is not valid UTF-8; send the records encoded as UTF-8');
      }
      const ndjson = (req.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-ndjson');
      const records = ndjson ? await parseNdjson(text) : parseArray(text);
      if (records.length === 0) throw badParameter('the body holds no records');
      if (records.length > MAX_RECORDS) {
        throw new ApiError('PAYLOAD_TOO_LARGE', `the batch has ${records.length} records, over the limit of ${MAX_RECORDS}; split it into smaller batches`);
      }
      const { ok, problems } = validateRecords(entity, records);
      if (problems.count > 0) throw new ApiError('INVALID_RECORDS', refusal('batch', problems.count, problems.listed[0]!), {}, problems.listed);
      const result = await ingestBatch(deps.pool, principal.company.id, entity, ok, { dryRun });
      return pass(dryRun ? { ...result, dryRun: true } : result);
    });
    done();
  });
}

/**
 * `?dryRun=true`: validate and write the batch, answer as usual, then roll it
 * back. It is the only parameter: a misspelled one would write the batch.
 */
function dryRunOf(query: unknown): boolean {
  const q = (query ?? {}) as Record<string, unknown>;
  const unknown = Object.keys(q).find((k) => k !== 'dryRun');
  if (unknown !== undefined) throw badParameter(`unknown parameter '${unknown}'${didYouMean(unknown, ['dryRun'])}; ingest takes only dryRun=true or false (the company is always the caller's)`);
  const v = q['dryRun'];
  if (v === undefined) return false;
  if (v === 'true' || v === 'false') return v === 'true';
  throw badParameter(`dryRun ${JSON.stringify(v)} is not valid; give true or false`);
}

/** Read as the import reads a file, so that a line means the same in both; a line that is not JSON refuses the whole body. */
async function parseNdjson(text: string): Promise<SourceRecord[]> {
  const out: SourceRecord[] = [];
  for await (const batch of ndjsonRecords([text])) {
    for (const r of batch) {
      if ('reason' in r) throw badParameter(`line ${r.line} is ${r.reason}; send one JSON object per line`);
      out.push(r);
    }
  }
  return out;
}

function parseArray(text: string): SourceRecord[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw badParameter(`the body is not valid JSON (${(e as Error).message}); send a JSON array of records`);
  }
  if (!Array.isArray(value)) throw badParameter('a JSON body must be an array of records (or send application/x-ndjson)');
  // In a JSON array, "line" is the record's position, from 1.
  return (value as unknown[]).map((v, i) => ({ line: i + 1, value: v }));
}
