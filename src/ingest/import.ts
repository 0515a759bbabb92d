/**
 * Bulk import of a file of records (NDJSON, or CSV with the field names as
 * header) of any size, with the ingest API's rules (newest updatedAt wins,
 * within the file too; unknown references reported). This module ties the
 * stages together: read.ts reads the file, validate.ts checks each record as
 * it streams, copy.ts writes the chunks. The file goes in whole or not at all:
 * it is one transaction, and any bad record refuses it.
 */
import type { Readable } from 'node:stream';
import type pg from 'pg';
import { inTransaction } from '../db/database.ts';
import { ChunkWriter, CHUNK } from './copy.ts';
import type { EntityDef } from './entities.ts';
import { openSource, type Format, type ReadRecord } from './read.ts';
import { refusal, type RecordError } from './rejection.ts';
import { writeBatch, type IngestResult } from './store.ts';
import { SourceCheck, type Validated } from './validate.ts';
import { UserError } from '../errors.ts';

/** An import's outcome is a batch's: the same counts and unknown references. */
export type ImportResult = IngestResult;

export class ImportRejected extends UserError {
  override name = 'ImportRejected';
  readonly errors: readonly RecordError[];
  readonly errorCount: number;
  constructor(errors: readonly RecordError[], errorCount: number) {
    super(refusal('file', errorCount, errors[0]!));
    this.errors = errors;
    this.errorCount = errorCount;
  }
}

export interface ImportOptions {
  readonly format?: Format;
  /** Read, check and write the whole file as usual, then roll it all back: what the import would do. */
  readonly dryRun?: boolean;
  /** What `-` reads (default: this process's standard input). */
  readonly stdin?: Readable;
  /** Called as the file is read: records so far, bytes read, file size (0 when unknown: standard input). */
  readonly onProgress?: (records: number, bytes: number, size: number) => void;
}

/** Imports a file (standard input, gzip: see openSource) in one transaction of its own. */
export async function importFile(pool: pg.Pool, companyId: string, entity: EntityDef, file: string, opts: ImportOptions = {}): Promise<ImportResult> {
  const source = openSource(file, entity, opts.format, opts.stdin);
  try {
    return await inTransaction(
      pool,
      (client) => importRecords(client, companyId, entity, source.records, { onChunk: (n) => opts.onProgress?.(n, source.bytesRead(), source.size) }),
      { dryRun: opts.dryRun ?? false },
    );
  } catch (e) {
    // A chunk checked as new met a key that another writer stored after the check.
    if ((e as { code?: string }).code === '23505') {
      throw new UserError(
        `another writer stored some of these ${entity.name} while the import ran, so nothing was imported; run the import again (it applies each record once)`,
        'SERVER',
        { cause: e },
      );
    }
    throw e;
  } finally {
    source.close();
  }
}

/**
 * Imports records on `client`, inside the caller's transaction (which the
 * caller rolls back on ImportRejected). The demo generator loads through here.
 * Each record is checked and turned into its COPY line as it is read, so a
 * chunk holds text, keys and references, not parsed records.
 */
export async function importRecords(
  client: pg.ClientBase,
  companyId: string,
  entity: EntityDef,
  records: AsyncIterable<readonly ReadRecord[]> | Iterable<ReadRecord>,
  opts: { onChunk?: (received: number) => void; chunkSize?: number } = {},
): Promise<ImportResult> {
  const chunkSize = opts.chunkSize ?? CHUNK;
  const check = new SourceCheck(entity);
  const { problems } = check;
  let received = 0;
  let now = Date.now();
  const batched: Validated[] = [];
  const writer = new ChunkWriter(client, companyId, entity, chunkSize);
  /** Takes one record; true when the writer's chunk is full. */
  const take = (r: ReadRecord): boolean => {
    received++;
    if (received % chunkSize === 0) {
      opts.onChunk?.(received);
      now = Date.now();
    }
    const v = check.take(r, now);
    if (!v || problems.count > 0) return false; // a problem refuses the import: stop writing, keep validating
    if (entity.membershipsField === undefined) return writer.add(v);
    batched.push(v);
    return false;
  };
  if (Symbol.asyncIterator in records) {
    for await (const batch of records) for (const r of batch) if (take(r)) await writer.flush();
  } else {
    for (const r of records) if (take(r)) await writer.flush();
  }
  await writer.finish();
  opts.onChunk?.(received);
  if (problems.count > 0) throw new ImportRejected(problems.listed, problems.count);
  if (entity.membershipsField !== undefined) {
    // Memberships are replaced record by record; such entities (agents) are few, so they take the ingest API's path.
    return writeBatch(client, companyId, entity, batched);
  }
  const t = writer.totals;
  return {
    received,
    inserted: t.inserted,
    updated: t.applied - t.inserted,
    unchanged: received - t.applied,
    unknownReferenceCount: t.unknownReferenceCount,
    unknownReferences: t.unknownReferences,
  };
}
