/**
 * The harness the export test files share. A file declares each export as a
 * spec (its oracle, a column subset, its filter cases) and gets, in one
 * describe block per export, the base cases (every column and the subset, in
 * CSV and JSON, zones and locales) and every filter case checked against the
 * oracle, each filter also removing rows or keeping all of them.
 */
import { describe, it } from 'node:test';
import { baseCases, checkCase, checkFilter, exportRows, WEEK_END, WEEK_START, type Case, type FilterCase, type Oracle, type Rows } from './oracle.ts';
import type { TestService } from './service.ts';

/** Epoch milliseconds of a timestamptz, as the SQL oracles give times. */
export const t = (x: string) => `extract(epoch FROM ${x}) * 1000`;
/** Whole milliseconds from `a` to `b`, as text. */
export const ms = (a: string, b: string) => `round(extract(epoch FROM (${b} - ${a})) * 1000)::bigint::text`;

export interface Spec {
  /** `conversation_actions`, or `marketing/raw_brand_post`. */
  readonly path: string;
  readonly oracle: Oracle;
  /** The columns of the reordered-subset cases. */
  readonly subset: readonly string[];
  readonly filters: readonly FilterCase[];
  /** Query parameters every case carries. */
  readonly extra?: string;
  /** The range of every case (default: the week). */
  readonly range?: { readonly start: number; readonly end: number };
}

export interface SpecChecks {
  /** What the rows of each base case must also satisfy, beyond equalling the oracle's. */
  base(rows: Rows): void;
  /** Registers more tests in the export's describe block, after the filter cases. */
  more?(ctx: { readonly base: Case; readonly unfiltered: () => Promise<Rows> }): void;
}

/** One describe block for the export: its base cases, then its filter cases. */
export function describeSpec(svc: TestService, spec: Spec, checks: SpecChecks): void {
  describe(spec.path, () => {
    const range = spec.range ?? { start: WEEK_START, end: WEEK_END };
    const base: Case = { path: spec.path, ...range, ...(spec.extra ? { query: spec.extra } : {}) };
    let cached: Rows | undefined;
    // The unfiltered export, fetched once for all the filter cases.
    const unfiltered = async () => (cached ??= await exportRows(svc, base));
    for (const { name, c } of baseCases(spec.path, spec.subset, spec.extra)) {
      it(name, async () => {
        checks.base(await checkCase(svc, { ...c, ...range }, spec.oracle));
      });
    }
    for (const f of spec.filters) {
      it(`filter: ${f.name}`, async () => {
        await checkFilter(svc, base, spec.oracle, f, await unfiltered());
      });
    }
    checks.more?.({ base, unfiltered });
  });
}

export function describeSpecs(svc: TestService, specs: readonly Spec[], checks: SpecChecks): void {
  for (const spec of specs) describeSpec(svc, spec, checks);
}

/** The spec of an export, by path. */
export function specOf(specs: readonly Spec[], path: string): Spec {
  const spec = specs.find((s) => s.path === path);
  if (!spec) throw new Error(`no spec for ${path}`);
  return spec;
}
