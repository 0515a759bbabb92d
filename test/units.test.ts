/** Pure parts: request parsing, ids, tokens, signed links, passwords. */
import { bucketCount, timeBuckets } from '../src/exports/buckets.ts';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DECOY_HASH, hashPassword, verifyPassword } from '../src/accounts/passwords.ts';
import { conversation } from '../src/exports/catalog/conversation.ts';
import { rowLimit } from '../src/exports/catalog/formats.ts';
import { parseExportRequest } from '../src/exports/request.ts';
import { sessionTimeZone } from '../src/exports/time-style.ts';
import { AccessTokens } from '../src/runs/access-token.ts';
import { ClosedRuns } from '../src/runs/closed-runs.ts';
import type { Subscriber } from '../src/db/announcements.ts';
import type { Run, RunState } from '../src/runs/run.ts';
import { workflowId } from '../src/runs/ids.ts';
import { UrlSigner } from '../src/storage/signed-url.ts';
import { bar } from '../packages/cli/src/progress.ts';
import { PollSchedule, type Progress } from '../packages/client/src/poll.ts';
import { CopyOutDecoder } from '../src/exports/copy-out.ts';

const zones = { resolveZone: (z: string) => (z.toLowerCase() === 'america/chicago' ? 'America/Chicago' : undefined) };
const base = { companyKey: ['demo'], startTime: ['1551441600000'], endTime: ['1556712000000'] };

describe('request parsing', () => {
  it('defaults: json, all columns in catalog order, UTC, no filters', () => {
    const r = parseExportRequest(conversation, base, zones);
    assert.equal(r.reportFormat, 'json');
    assert.deepEqual(r.columns, conversation.columns.map((c) => c.name));
    assert.equal(r.zone, undefined);
    assert.equal(r.locale, undefined);
  });
  it('normalises spelling: CSV, en_US, zone case, column case, priorities order', () => {
    const r = parseExportRequest(conversation, { ...base, reportFormat: ['CSV'], locale: ['en_US'], timezone: ['AMERICA/CHICAGO'], reportMetrics: ['status', 'conversation_id'], priorities: ['5,1', '3'] }, zones);
    assert.equal(r.reportFormat, 'csv');
    assert.equal(r.locale, 'en');
    assert.deepEqual(r.zone, { kind: 'iana', id: 'America/Chicago' });
    assert.deepEqual(r.columns, ['STATUS', 'CONVERSATION_ID']);
    assert.deepEqual(r.priorities, [1, 3, 5]);
  });
  it('the same request in other spellings names the same workflow; a different one does not', () => {
    const a = parseExportRequest(conversation, { ...base, priorities: ['1,2'], reportFormat: ['csv'] }, zones);
    const b = parseExportRequest(conversation, { ...base, priorities: ['2', '1'], reportFormat: ['CSV'] }, zones);
    const c = parseExportRequest(conversation, { ...base, priorities: ['2'], reportFormat: ['csv'] }, zones);
    assert.equal(workflowId('demo', a), workflowId('demo', b));
    assert.notEqual(workflowId('demo', a), workflowId('demo', c));
    assert.notEqual(workflowId('demo', a), workflowId('acme', a), 'scoped by company');
  });
  it('xlsx in any case; csvEscapeFormulas only with csv, kept only when true, so other requests keep their workflow', () => {
    assert.equal(parseExportRequest(conversation, { ...base, reportFormat: ['XLSX'] }, zones).reportFormat, 'xlsx');
    const plain = parseExportRequest(conversation, { ...base, reportFormat: ['csv'] }, zones);
    const off = parseExportRequest(conversation, { ...base, reportFormat: ['csv'], csvEscapeFormulas: ['false'] }, zones);
    const on = parseExportRequest(conversation, { ...base, reportFormat: ['csv'], csvEscapeFormulas: ['True'] }, zones);
    assert.equal(off.csvEscapeFormulas, undefined);
    assert.equal(on.csvEscapeFormulas, true);
    assert.equal(workflowId('demo', off), workflowId('demo', plain));
    assert.notEqual(workflowId('demo', on), workflowId('demo', plain));
    assert.throws(() => parseExportRequest(conversation, { ...base, reportFormat: ['xlsx'], csvEscapeFormulas: ['true'] }, zones), /applies to reportFormat=csv only/);
  });
  it('enableBusinessHour alone means inside business hours', () => {
    assert.equal(parseExportRequest(conversation, { ...base, enableBusinessHour: ['TRUE'] }, zones).businessHours, true);
    assert.equal(parseExportRequest(conversation, { ...base, enableBusinessHour: ['false'] }, zones).businessHours, undefined);
  });
});

describe('row limits by format', () => {
  it("xlsx: a sheet's 1,048,575 data rows, or MAX_EXPORT_ROWS when lower; csv and json: MAX_EXPORT_ROWS", () => {
    assert.equal(rowLimit('xlsx', 100_000_000).rows, 1_048_575);
    assert.match(rowLimit('xlsx', 100_000_000).exceeded, /^more than the 1048575 data rows one xlsx sheet holds; .*or use reportFormat=csv$/);
    assert.deepEqual(rowLimit('xlsx', 1000), rowLimit('csv', 1000));
    assert.equal(rowLimit('csv', 100_000_000).rows, 100_000_000);
    assert.equal(rowLimit('json', 5).exceeded, 'more than the limit of 5 per export; ask for a shorter range or narrower filters');
  });
});

describe('fixed offsets as session zones', () => {
  it('POSIX form with the sign inverted', () => {
    assert.equal(sessionTimeZone({ kind: 'offset', offsetMs: 19_800_000 }), '<+05:30>-05:30');
    assert.equal(sessionTimeZone({ kind: 'offset', offsetMs: -21_600_000 }), '<-06:00>+06:00');
  });
});

describe('analyticsAccessToken', () => {
  const tokens = new AccessTokens(Buffer.alloc(32, 7), 60);
  const run = 'YV0RNEv5IPQAQTyRf43jmhRxWXuTyDfjb9dR0HNEC0M=';
  it('is 16 bytes of base64, valid for its run until it expires', () => {
    const t = tokens.issue(run, 1_000_000);
    assert.match(t, /^[A-Za-z0-9+/]{22}==$/);
    assert.equal(tokens.check(t, run, 1_000_000), 'ok');
    assert.equal(tokens.check(t, run, 1_000_000 + 61_000), 'expired');
    assert.equal(tokens.check(t, run.replace('Y', 'Z'), 1_000_000), 'wrong-run');
    assert.equal(tokens.check('abc', run), 'malformed');
  });
  it('a token from another secret is refused', () => {
    const other = new AccessTokens(Buffer.alloc(32, 8), 60);
    assert.equal(tokens.check(other.issue(run), run), 'wrong-run');
  });
});

describe('signed links', () => {
  const signer = new UrlSigner(Buffer.alloc(32, 1));
  it('verify what was signed, refuse any change and expiry', () => {
    const link = new URL(signer.sign('1/2.1/conversation-2.csv', 10_000_000), 'http://x');
    const e = link.searchParams.get('expires')!;
    const s = link.searchParams.get('signature')!;
    assert.equal(link.pathname, '/files/1/2.1/conversation-2.csv');
    assert.equal(signer.verify('1/2.1/conversation-2.csv', e, s, 9_000_000), 'ok');
    assert.equal(signer.verify('1/3.1/conversation-3.csv', e, s, 9_000_000), 'invalid');
    assert.equal(signer.verify('1/2.1/conversation-2.csv', String(Number(e) + 1), s, 9_000_000), 'invalid');
    assert.equal(signer.verify('1/2.1/conversation-2.csv', e, s, 10_001_000), 'expired');
    assert.equal(signer.verify('1/2.1/conversation-2.csv', undefined, s), 'invalid');
  });
});

describe('passwords', () => {
  it('scrypt hashes are salted and verify only the right password', async () => {
    const a = await hashPassword('correct horse');
    const b = await hashPassword('correct horse');
    assert.notEqual(a, b);
    assert.match(a, /^scrypt\$15\$8\$1\$/);
    assert.equal(await verifyPassword('correct horse', a), true);
    assert.equal(await verifyPassword('correct horsf', a), false);
    assert.equal(await verifyPassword('x', 'garbage'), false);
  });

  it("the decoy an unknown user's check runs against has a real hash's form and cost, and matches no password", async () => {
    const real = await hashPassword('correct horse');
    const form = (h: string) => h.split('$').map((part, i) => (i < 4 ? part : Buffer.from(part, 'base64').length));
    assert.deepEqual(form(DECOY_HASH), form(real), 'the same parameters (so the same work), salt and key lengths');
    for (const guess of ['', 'correct horse', DECOY_HASH]) assert.equal(await verifyPassword(guess, DECOY_HASH), false);
  });
});

describe('closed runs kept in memory', () => {
  const run = (state: RunState, pk = '7') => ({ pk, companyId: '1', runId: `r-${pk}`, workflowId: 'ABCDEF00-0000-4000-8000-000000000000', state, request: {} }) as unknown as Run;
  const W = 'abcdef00-0000-4000-8000-000000000000';
  /** A cache on announcements this test makes: it says whether they are heard, and announces. */
  const cacheOn = () => {
    let subscriber: Subscriber | undefined;
    const changes = { listening: true, subscribe: (_channel: string, s: Subscriber) => void (subscriber = s) };
    let now = 0;
    const cache = new ClosedRuns(changes, () => now);
    return { cache, changes, announce: (pk: string) => subscriber!.heard(pk), lost: () => subscriber!.forgetAll(), at: (ms: number) => void (now = ms) };
  };

  it('keeps a closed run under its company and ids, never an open one, and for ten seconds at most', () => {
    const { cache, at } = cacheOn();
    for (const open of ['QUEUED', 'RUNNING'] as const) {
      cache.remember(run(open), cache.generation);
      assert.equal(cache.get('1', W, 'r-7'), undefined, `${open} is read afresh`);
    }
    const closed = run('COMPLETED');
    cache.remember(closed, cache.generation);
    assert.equal(cache.get('1', W.toUpperCase(), 'r-7'), closed, 'the workflow id in any case');
    assert.equal(cache.get('2', W, 'r-7'), undefined, 'not for another company');
    assert.equal(cache.get('1', W, 'R-7'), undefined, 'the run id as given');
    at(9_999);
    assert.equal(cache.get('1', W, 'r-7'), closed);
    at(10_000);
    assert.equal(cache.get('1', W, 'r-7'), undefined, 'read again after ten seconds');
  });

  it('forgets a run when its change is announced, keeps no read that began before an announcement, and keeps nothing while not listening', () => {
    const { cache, changes, announce, lost } = cacheOn();
    cache.remember(run('COMPLETED', '7'), cache.generation);
    cache.remember(run('FAILED', '8'), cache.generation);
    announce('7');
    assert.equal(cache.get('1', W, 'r-7'), undefined, 'the announced run is forgotten');
    assert.ok(cache.get('1', W, 'r-8'), 'another is kept');
    const before = cache.generation;
    announce('8');
    cache.remember(run('COMPLETED', '8'), before);
    assert.equal(cache.get('1', W, 'r-8'), undefined, 'a read from before the announcement is not kept');
    cache.remember(run('CANCELED', '9'), cache.generation);
    lost();
    assert.equal(cache.get('1', W, 'r-9'), undefined, 'a lost connection forgets everything');
    changes.listening = false;
    cache.remember(run('CANCELED', '9'), cache.generation);
    changes.listening = true;
    assert.equal(cache.get('1', W, 'r-9'), undefined, 'nothing is kept while not listening');
    cache.remember(run('CANCELED', '9'), cache.generation);
    announce('');
    assert.equal(cache.get('1', W, 'r-9'), undefined, 'an empty announcement (a truncate) forgets every run');
  });

  it('does not keep a run whose request is large', () => {
    const { cache } = cacheOn();
    cache.remember({ ...run('COMPLETED'), request: { teamIds: Array.from({ length: 2000 }, (_, i) => String(i)) } } as unknown as Run, cache.generation);
    assert.equal(cache.get('1', W, 'r-7'), undefined);
  });
});

describe('time buckets', () => {
  const H = 3_600_000;
  const chicago = { kind: 'iana', id: 'America/Chicago' } as const;
  it('the fall-back day in Chicago has 25 hourly buckets, two of them starting at 01:00 local', () => {
    const start = Date.UTC(2019, 10, 3, 5); // 2019-11-03 00:00 CDT
    const end = Date.UTC(2019, 10, 4, 6); // 2019-11-04 00:00 CST
    const b = timeBuckets(H, start, end, chicago);
    assert.equal(b.length, 25);
    assert.ok(b.every((x) => x.end - x.start === H), 'every bucket is one hour');
    assert.equal(b[1]!.start, Date.UTC(2019, 10, 3, 6)); // 01:00 CDT
    assert.equal(b[2]!.start, Date.UTC(2019, 10, 3, 7)); // 01:00 CST
    const day = timeBuckets(86_400_000, start, end, chicago);
    assert.deepEqual(day, [{ start, end }], 'the day bucket is 25 hours long');
  });
  it('the spring-forward day has 23 hourly buckets and no 02:00', () => {
    const b = timeBuckets(H, Date.UTC(2019, 2, 10, 6), Date.UTC(2019, 2, 11, 5), chicago);
    assert.equal(b.length, 23);
    assert.ok(b.every((x) => x.end - x.start === H));
  });
  it('fixed offsets align on their own midnight; weeks start on Monday', () => {
    const kolkata = { kind: 'offset', offsetMs: 19_800_000 } as const;
    const b = timeBuckets(86_400_000, Date.UTC(2019, 0, 1), Date.UTC(2019, 0, 3), kolkata);
    assert.deepEqual(b.map((x) => new Date(x.start).toISOString()), ['2019-01-01T00:00:00.000Z', '2019-01-01T18:30:00.000Z', '2019-01-02T18:30:00.000Z']);
    const w = timeBuckets(604_800_000, Date.UTC(2019, 0, 1), Date.UTC(2019, 0, 20), undefined);
    assert.deepEqual(w.map((x) => new Date(x.start).toISOString().slice(0, 10)), ['2019-01-01', '2019-01-07', '2019-01-14']);
  });
  it('counts without listing when far beyond the limit', () => {
    assert.equal(bucketCount(300_000, 0, 365 * 86_400_000, undefined), 105_120);
    assert.equal(bucketCount('MONTH', Date.UTC(2019, 0, 1), Date.UTC(2020, 0, 1), undefined), 12);
  });
});

describe('progress bar', () => {
  it('fills in proportion to the share done, clamped', () => {
    assert.equal(bar(0), `[${'.'.repeat(24)}]`);
    assert.equal(bar(0.5), `[${'#'.repeat(12)}${'.'.repeat(12)}]`);
    assert.equal(bar(1), `[${'#'.repeat(24)}]`);
  });
});

describe('when a client asks for a run\'s status', () => {
  /**
   * A run as its status shows it: counted `countMs` after it starts, then
   * writing `rowsPerMs` rows until `total`, closed `publishMs` after the last
   * row; a heartbeat every `beatMs` (on the server's clock) reports the rows
   * written. The client's clock is `aheadMs` ahead of the server's.
   */
  function simulate(run: { total: number; rowsPerMs: number; countMs?: number; beatMs?: number; publishMs?: number; aheadMs?: number; latencyMs?: number }) {
    const { total, rowsPerMs, countMs = 150, beatMs = 1000, publishMs = 30, aheadMs = 0, latencyMs = 0 } = run;
    const written = countMs + total / rowsPerMs;
    const closedAt = written + publishMs;
    const statusAt = (server: number): Progress | 'closed' => {
      if (server >= closedAt) return 'closed';
      if (server < countMs) return { currentCount: 0, totalCount: null, lastAcknowledgeTime: 0 };
      const beat = countMs + Math.floor((server - countMs) / beatMs) * beatMs;
      return { currentCount: Math.min(total, Math.round((beat - countMs) * rowsPerMs)), totalCount: total, lastAcknowledgeTime: beat };
    };
    // Each status is read by the server `latencyMs` after it is asked for, and comes back as long after.
    let client = aheadMs;
    const schedule = new PollSchedule({ now: () => client });
    const waits: number[] = [];
    for (;;) {
      const askedAt = client;
      const status = statusAt(askedAt - aheadMs + latencyMs);
      client += 2 * latencyMs;
      if (status === 'closed') return { polls: waits.length + 1, late: askedAt - aheadMs + latencyMs - closedAt, waits };
      const wait = schedule.next(status, askedAt);
      waits.push(wait);
      client += wait;
    }
  }

  it('asks less and less often while nothing shows when the run will end', () => {
    const schedule = new PollSchedule();
    const running: Progress = { currentCount: null, totalCount: null, lastAcknowledgeTime: null };
    assert.deepEqual(Array.from({ length: 9 }, () => schedule.next(running)), [200, 300, 450, 675, 1012.5, 1518.75, 2000, 2000, 2000]);
  });

  it('closes in on the end its progress foretells: found soon after, with some twenty questions, whatever the clocks', () => {
    for (const aheadMs of [0, 86_400_000, -3_600_000, 1234]) {
      for (const latencyMs of [0, 40, 400]) {
        // 1,000,000 rows at 100 per ms: the last row at 10.15 s, closed at 10.18 s.
        const { polls, late, waits } = simulate({ total: 1_000_000, rowsPerMs: 100, aheadMs, latencyMs });
        const at = `clock ${aheadMs} ms ahead, ${latencyMs} ms each way; waits ${waits.join(', ')}`;
        // (A slow answer makes the questions coarser: the last before the end is in flight longer.)
        assert.ok(late >= 0 && late <= 100 + latencyMs / 2, `found ${late} ms after it closed (${at})`);
        assert.ok(polls <= 25, `${polls} questions (${at})`);
        assert.ok(waits.every((w) => w >= 50 && w <= 2000), at);
      }
    }
  });

  it('past the expected end, asks soon, then less and less often', () => {
    // The file takes 5 s to publish after the last row.
    const { polls, late, waits } = simulate({ total: 1_000_000, rowsPerMs: 100, publishMs: 5000 });
    const after = waits.slice(waits.findIndex((w, i) => i > 0 && w === 50 && waits[i - 1] === 50));
    assert.ok(after.length >= 5 && after.every((w, i) => i === 0 || w >= after[i - 1]!) && after.at(-1)! >= 1000, waits.join(', '));
    // Some ten questions in those 5 s, not a hundred.
    assert.ok(polls <= 35 && late <= 2000, `${polls} questions, ${late} ms late: ${waits.join(', ')}`);
  });

  it('finds a run closed within about a third of the time its file took to publish', () => {
    const late: string[] = [];
    for (let publishMs = 100; publishMs <= 4000; publishMs += 50) {
      const run = simulate({ total: 1_000_000, rowsPerMs: 100, publishMs });
      if (run.late > publishMs / 3 + 100) late.push(`${publishMs} ms to publish: found ${run.late} ms late (${run.waits.join(', ')})`);
    }
    assert.deepEqual(late, []);
  });

  it('keeps its waits within its bounds whatever it is given', () => {
    const running: Progress = { currentCount: null, totalCount: null, lastAcknowledgeTime: null };
    for (const opts of [{ firstMs: 0 }, { maxIntervalMs: 0 }, { maxIntervalMs: Number.NaN }, { maxIntervalMs: -5 }, { firstMs: 10 }, { minMs: -1, firstMs: 1e9 }]) {
      const schedule = new PollSchedule(opts);
      const waits = Array.from({ length: 12 }, () => schedule.next(running));
      assert.ok(waits.every((w) => Number.isFinite(w) && w >= 50 && w <= 2000), `${JSON.stringify(opts)}: ${waits.join(', ')}`);
    }
  });

  it('finds a long run done as soon, and a short one no later than backing off would', () => {
    // Ten minutes: asked every 2 s at most, as before, and found as soon.
    const long = simulate({ total: 60_000_000, rowsPerMs: 100 });
    assert.ok(long.late >= 0 && long.late <= 100 && long.polls <= 600_000 / 2000 + 20, `${long.late} ms late, ${long.polls} questions`);
    // Done before its second heartbeat: no rate to read, so the waits back off as before.
    const short = simulate({ total: 50_000, rowsPerMs: 100 });
    assert.deepEqual(short.waits, [200, 300, 450]);
  });

  it('reads a new attempt\'s progress afresh, not at the rate of the one before', () => {
    let now = 0;
    const schedule = new PollSchedule({ now: () => now });
    const ask = (rows: number, total: number, beat: number, at: number) => {
      now = at;
      return schedule.next({ currentCount: rows, totalCount: total, lastAcknowledgeTime: beat });
    };
    ask(0, 1000, 0, 10);
    ask(0, 1000, 0, 900);
    // The heartbeat of 1000 (server) came after the status of 900 (here): read as sent then, at 500 rows a second the
    // other 500 rows are written at 1900, and it waits half of the 890 ms left.
    assert.equal(ask(500, 1000, 1000, 1010), 445);
    // The attempt failed and the run went back to the queue (no rows known); the next one starts from 0, no end
    // foretold until two of its heartbeats.
    const waits = [schedule.next({ currentCount: null, totalCount: 1000, lastAcknowledgeTime: null }), ask(0, 1000, 5000, 5010), ask(0, 1000, 5000, 5300)];
    assert.ok(waits.every((w) => w >= 200), waits.join(', '));
    // 400 rows a second by its own heartbeats (not 400 in the 6 s since the first attempt's): the other 600 rows by 7400
    // (the heartbeat read as sent at 5900), so it waits half of the 1390 ms left.
    assert.equal(ask(400, 1000, 6000, 6010), 695);
  });
});

describe('reading a COPY\'s messages', () => {
  /** One backend message: its type, its length (counting itself), its content. */
  const message = (type: string, content: Buffer | string = '') => {
    const body = Buffer.from(content);
    const head = Buffer.alloc(5);
    head.write(type, 0, 'latin1');
    head.writeUInt32BE(body.length + 4, 1);
    return Buffer.concat([head, body]);
  };
  const rows = ['a,1\n', '"b\nc",2\n', '', 'd'.repeat(300) + '\n'];
  // CopyOutResponse (text, 2 columns), the rows with a notice amid them, CopyDone; then what the connection reads.
  const copy = Buffer.concat([
    message('H', Buffer.from([0, 0, 2, 0, 0, 0, 0])),
    message('d', rows[0]),
    message('d', rows[1]),
    message('N', 'SNOTICE\0Mhello\0\0'),
    message('d', rows[2]),
    message('d', rows[3]),
    message('c'),
  ]);
  const after = Buffer.concat([message('C', 'COPY 4\0'), message('Z', 'I')]);

  /** Decodes `bytes` cut at `cuts`; the rows' bytes and how it ended. */
  const decode = (bytes: Buffer, cuts: number[]) => {
    const decoder = new CopyOutDecoder();
    const data: Buffer[] = [];
    let at = 0;
    for (const cut of [...cuts, bytes.length]) {
      const { data: d, end } = decoder.decode(bytes.subarray(at, cut));
      data.push(d);
      if (end) return { data: Buffer.concat(data).toString(), kind: end.kind, rest: Buffer.concat([end.rest, bytes.subarray(cut)]) };
      at = cut;
    }
    return { data: Buffer.concat(data).toString(), kind: undefined, rest: Buffer.alloc(0) };
  };

  it('gives the rows\' bytes and leaves what follows the copy to the connection, however the bytes are cut', () => {
    const bytes = Buffer.concat([copy, after]);
    for (let a = 0; a <= bytes.length; a++) {
      for (const b of [a, a + 1, a + 3, a + 7, a + 64]) {
        const got = decode(bytes, [a, Math.min(b, bytes.length)]);
        assert.equal(got.data, rows.join(''), `cut at ${a} and ${b}`);
        assert.equal(got.kind, 'done');
        assert.ok(got.rest.equals(after), `cut at ${a} and ${b}: the rest is ${got.rest.length} bytes`);
      }
    }
  });

  it('stops at an error, which it leaves whole to the connection', () => {
    const error = message('E', 'SERROR\0C57014\0Mcanceling statement due to user request\0\0');
    const bytes = Buffer.concat([copy.subarray(0, copy.length - 5), error, message('Z', 'I')]);
    for (let a = 0; a <= bytes.length; a++) {
      const got = decode(bytes, [a]);
      assert.equal(got.data, rows.join(''), `cut at ${a}`);
      assert.equal(got.kind, 'error');
      assert.ok(got.rest.equals(bytes.subarray(copy.length - 5)), `cut at ${a}`);
    }
  });

  it('reads nothing more once the copy has ended', () => {
    const decoder = new CopyOutDecoder();
    assert.ok(decoder.decode(Buffer.concat([copy, after])).end);
    assert.throws(() => decoder.decode(after), /has ended/);
  });
});
