import type { ErrorCode } from '../errors.ts';

/** The response envelope of every /api/public answer, success or failure. */
export interface Envelope<T> {
  status: 'PASS' | 'FAIL';
  request: null;
  message: string | null;
  result: T | null;
  /** Extension: a stable error code on failures. */
  code?: ErrorCode;
  /** Extension: itemised problems, e.g. each rejected record of an ingest batch. */
  errors?: readonly unknown[];
}

export function pass<T>(result: T): Envelope<T> {
  return { status: 'PASS', request: null, message: null, result };
}

export function fail(message: string, code: ErrorCode, errors?: readonly unknown[]): Envelope<never> {
  return { status: 'FAIL', request: null, message, result: null, code, ...(errors ? { errors } : {}) };
}
