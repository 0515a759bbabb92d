/**
 * Identifiers of export runs. The workflowId is a name-based (v3) UUID of the
 * company and the canonical request, so the same request always names the
 * same workflow; the runId is random and unique per run.
 */
import { randomBytes } from 'node:crypto';
import { v3 as uuidv3 } from 'uuid';
import type { ExportRequest } from '../exports/catalog/export-request.ts';

/** Namespace of care-reports workflow ids (itself a v3 UUID of the product name in the URL namespace). */
const WORKFLOW_NAMESPACE = uuidv3('https://care-reports/workflow', uuidv3.URL);

export function workflowId(companyKey: string, req: ExportRequest): string {
  return uuidv3(`${companyKey}\n${canonicalJson(req)}`, WORKFLOW_NAMESPACE);
}

/** 32 random bytes, standard base64 (contains `+ / =`, so it is percent-encoded in URLs). */
export function newRunId(): string {
  return randomBytes(32).toString('base64');
}

export function isRunIdShape(s: string): boolean {
  return /^[A-Za-z0-9+/]{43}=$/.test(s);
}

/** JSON with object keys sorted, so equal requests serialise equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
