/**
 * Why records are refused. A batch to the ingest API and a file to the import
 * are all or nothing, and both answer the same way: every problem names its
 * record's line, the field and the reason, whether the reader could not read
 * the line or the record broke its schema, so that a feed is fixed the same
 * way whichever path it takes.
 */

/** One problem with one record; `field` is null when the record as a whole is at fault. */
export interface RecordError {
  readonly line: number;
  readonly field: string | null;
  readonly reason: string;
}

/** Problems listed when a batch or a file is refused; the count covers them all. */
export const MAX_PROBLEMS_LISTED = 1000;

/** The message of a refused batch or file: how many problems, and the first. */
export function refusal(of: 'batch' | 'file', count: number, first: RecordError): string {
  return `${count} problem${count === 1 ? '' : 's'} in the ${of}, nothing was written; first: line ${first.line}${first.field ? `, ${first.field}` : ''}: ${first.reason}`;
}

/** The problems of a source too large to hold them all: each counted, the first MAX_PROBLEMS_LISTED kept. */
export class Problems {
  readonly listed: RecordError[] = [];
  count = 0;

  add(e: RecordError): void {
    this.count++;
    if (this.listed.length < MAX_PROBLEMS_LISTED) this.listed.push(e);
  }
}
