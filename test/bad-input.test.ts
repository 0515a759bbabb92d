/**
 * Every bad input gets a 4xx FAIL envelope that names the parameter and the
 * fix, and the service keeps serving.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COMMON_PARAMETERS } from '../src/exports/catalog/parameters.ts';
import { EXPORTS } from '../src/exports/catalog/index.ts';
import { basic, envelopeProblem, failuresOf, fetch, getJson, startTestService, waitClosed } from './helpers/service.ts';

const svc = await startTestService();
const h = basic('demo');
const RANGE = 'startTime=1551441600000&endTime=1556712000000';
const create = (qs: string, headers = h, path = 'conversation') =>
  getJson(`${svc.base}/api/public/reports/report/${path}?${qs}`, headers);

async function expectFail(p: Promise<{ status: number; body: { status: string; message: string | null; result: unknown; request: null } }>, status: number, mention: RegExp) {
  const { status: got, body } = await p;
  assert.equal(got, status, JSON.stringify(body));
  assert.equal(body.status, 'FAIL');
  assert.equal(body.request, null);
  assert.equal(body.result, null);
  assert.match(body.message ?? '', mention);
}

describe('bad parameters on create → 400 naming the parameter', () => {
  const cases: [string, string, RegExp][] = [
    ['missing startTime', 'companyKey=demo&endTime=1556712000000', /startTime is required/],
    ['missing endTime', 'companyKey=demo&startTime=1551441600000', /endTime is required/],
    ['non-numeric startTime', 'companyKey=demo&startTime=yesterday&endTime=1556712000000', /startTime 'yesterday' is not epoch milliseconds/],
    ['fractional endTime', 'companyKey=demo&startTime=1551441600000&endTime=1556712000000.5', /endTime .* is not epoch milliseconds/],
    ['reversed range', 'companyKey=demo&startTime=1556712000000&endTime=1551441600000', /startTime .* must be before endTime/],
    ['empty range', 'companyKey=demo&startTime=1556712000000&endTime=1556712000000', /must be before endTime/],
    ['unknown reportFormat', `companyKey=demo&${RANGE}&reportFormat=xml`, /reportFormat 'xml' is not supported; use csv, json, xlsx/],
    ['csvEscapeFormulas on a spreadsheet', `companyKey=demo&${RANGE}&reportFormat=xlsx&csvEscapeFormulas=true`, /csvEscapeFormulas applies to reportFormat=csv only, not xlsx/],
    ['csvEscapeFormulas on the default json', `companyKey=demo&${RANGE}&csvEscapeFormulas=TRUE`, /csvEscapeFormulas applies to reportFormat=csv only, not json/],
    ['non-boolean csvEscapeFormulas', `companyKey=demo&${RANGE}&reportFormat=csv&csvEscapeFormulas=yes`, /csvEscapeFormulas 'yes' is not a boolean/],
    ['unknown locale', `companyKey=demo&${RANGE}&locale=pt_BR`, /locale 'pt_BR' is not supported/],
    ['unknown timezone', `companyKey=demo&${RANGE}&timezone=Mars/Olympus_Mons`, /timezone 'Mars\/Olympus_Mons' is not a known IANA zone/],
    ['bad timezoneOffset', `companyKey=demo&${RANGE}&timezoneOffset=12345`, /timezoneOffset '12345' is not valid/],
    ['unknown conversationReportType', `companyKey=demo&${RANGE}&conversationReportType=ALL`, /conversationReportType 'ALL' is not valid; use one of OPEN_AT_END, CLOSED, CREATED/],
    ['unknown column', `companyKey=demo&${RANGE}&reportMetrics=CONVERSATION_ID&reportMetrics=FOO`, /reportMetrics: 'FOO' is not a column .*valid columns are CONVERSATION_ID/],
    ['repeated column', `companyKey=demo&${RANGE}&reportMetrics=STATUS&reportMetrics=status`, /STATUS is asked for twice/],
    ['priority above 5', `companyKey=demo&${RANGE}&priorities=1%2C6`, /priorities: 6 is not a priority; priorities are 0 to 5/],
    ['negative priority', `companyKey=demo&${RANGE}&priorities=-1`, /priorities: '-1' is not valid/],
    ['malformed priority list', `companyKey=demo&${RANGE}&priorities=1%2C%2C2`, /priorities is malformed/],
    ['malformed workqueueIds', `companyKey=demo&${RANGE}&workqueueIds=501%2Cabc`, /workqueueIds: 'abc' is not valid/],
    ['malformed smartViewId', `companyKey=demo&${RANGE}&smartViewId=9001%2C9002`, /smartViewId '9001,9002' is not an id/],
    ['unknown smart view', `companyKey=demo&${RANGE}&smartViewId=123`, /smartViewId: 123 is not a smart view of company demo/],
    ['businessHourType without enableBusinessHour', `companyKey=demo&${RANGE}&businessHourType=true`, /businessHourType needs enableBusinessHour=true/],
    ['non-boolean enableBusinessHour', `companyKey=demo&${RANGE}&enableBusinessHour=yes`, /enableBusinessHour 'yes' is not a boolean/],
    ['parameter of another export', `companyKey=demo&${RANGE}&teamIds=1`, /teamIds has no meaning for the conversation export/],
    ['unknown parameter', `companyKey=demo&${RANGE}&reportMetric=STATUS`, /unknown parameter 'reportMetric'; did you mean reportMetrics\?/],
    ['misspelled parameter', `companyKey=demo&${RANGE}&timezoneOfset=0`, /unknown parameter 'timezoneOfset'; did you mean timezoneOffset\?/],
    ['startTime in seconds', 'companyKey=demo&startTime=1551441600&endTime=1556712000000',
      /^startTime 1551441600 is in seconds, not epoch milliseconds \(as milliseconds it is 1970-01-18T22:57:21\.600Z\); give milliseconds: startTime=1551441600000 for 2019-03-01T12:00:00\.000Z$/],
    ['endTime in seconds', 'companyKey=demo&startTime=1551441600000&endTime=1556712000', /^endTime 1556712000 is in seconds.*give milliseconds: endTime=1556712000000 for 2019-05-01T12:00:00\.000Z$/],
    ['the last second before 1973 as milliseconds', 'companyKey=demo&startTime=99999999999&endTime=1556712000000', /startTime 99999999999 is in seconds/],
    ['twice-given startTime', `companyKey=demo&${RANGE}&startTime=1`, /startTime was given 2 times/],
    ['missing companyKey', RANGE, /companyKey is required/],
  ];
  for (const [name, qs, mention] of cases) {
    it(name, () => expectFail(create(qs), 400, mention));
  }

  // Parameters of the other exports: where they have no meaning, and what they must name.
  const others: [string, string, string, RegExp][] = [
    ['priorities on user', 'user', `${RANGE}&priorities=1`, /priorities has no meaning for the user export; its parameters are .*agentId, teamId, includeDisabled/],
    ['business hours on raw_agent_states', 'raw_agent_states', `${RANGE}&enableBusinessHour=true`, /enableBusinessHour has no meaning for the raw_agent_states export/],
    ['raiselimit on conversation_actions', 'conversation_actions', `${RANGE}&raiselimit=true`, /raiselimit has no meaning for the conversation_actions export/],
    ['campaignIds on a Care export', 'combined', `${RANGE}&campaignIds=701`, /campaignIds has no meaning for the combined export/],
    ['smartViewId on brand posts', 'marketing/raw_brand_post', `${RANGE}&smartViewId=9001`, /smartViewId has no meaning for the raw_brand_post export/],
    ['non-boolean raiselimit', 'conversation_history_action', `${RANGE}&raiselimit=maybe`, /raiselimit 'maybe' is not a boolean; use true or false/],
    ['non-boolean includeDisabled', 'user', `${RANGE}&includeDisabled=1`, /includeDisabled '1' is not a boolean/],
    ['malformed teamIds', 'team_performance', `${RANGE}&teamIds=6222%2Cnorth`, /teamIds: 'north' is not valid/],
    ['unknown team', 'team_performance', `${RANGE}&teamIds=6222,9999`, /teamIds: 9999 is not a team of company demo; list them with GET \/api\/public\/teams/],
    ['unknown teams in teamId', 'user', `${RANGE}&teamId=1&teamId=2`, /teamId: 1, 2 are not teams of company demo/],
    ['unknown agent', 'user', `${RANGE}&agentId=1001&agentId=77`, /agentId: 77 is not an agent of company demo/],
    ['unknown campaign', 'marketing/raw_brand_post', `${RANGE}&campaignIds=5`, /campaignIds: 5 is not a campaign of company demo/],
    ['unknown work queue', 'response', `${RANGE}&workqueueIds=501,999`, /workqueueIds: 999 is not a work queue of company demo/],
  ];
  for (const [name, path, qs, mention] of others) {
    it(name, () => expectFail(create(`companyKey=demo&${qs}`, h, path), 400, mention));
  }

  it('malformed JSON body', () =>
    expectFail(
      getJson(`${svc.base}/api/public/reports/report/conversation?companyKey=demo`, { ...h, 'Content-Type': 'application/json' }, { method: 'POST', body: '{"startTime": 1,' }),
      400,
      /JSON body is malformed/,
    ));
  it('unsupported content type', () =>
    expectFail(
      getJson(`${svc.base}/api/public/reports/report/conversation?companyKey=demo`, { ...h, 'Content-Type': 'application/xml' }, { method: 'POST', body: '<a/>' }),
      415,
      /unsupported Content-Type/,
    ));
});

describe('parameter names an object has, and parameters given in two places', () => {
  const url = `${svc.base}/api/public/reports/report/conversation`;
  const form = { ...h, 'Content-Type': 'application/x-www-form-urlencoded' };
  const json = { ...h, 'Content-Type': 'application/json' };
  for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    it(`a parameter named ${name}, in the query, a form or JSON, is an unknown parameter`, async () => {
      const unknown = new RegExp(`^unknown parameter '${name}'`);
      await expectFail(create(`companyKey=demo&${RANGE}&${name}=1&${name}=2`), 400, unknown);
      await expectFail(getJson(`${url}?companyKey=demo`, form, { method: 'POST', body: `${RANGE}&${name}=1` }), 400, unknown);
      const body = `{"startTime":1551441600000,"endTime":1556712000000,"${name}":"1"}`;
      await expectFail(getJson(`${url}?companyKey=demo`, json, { method: 'POST', body }), 400, unknown);
      const runs = await getJson(`${svc.base}/api/public/reports/runs?companyKey=demo&${name}=1`, h);
      assert.equal(runs.status, 400, JSON.stringify(runs.body));
      assert.match(runs.body.message ?? '', unknown);
    });
  }

  it('companyKey in the query string and another in the body → 400 naming it, whichever company comes first', async () => {
    for (const [query, body] of [['demo', 'acme'], ['acme', 'demo']]) {
      await expectFail(
        getJson(`${url}?companyKey=${query}`, form, { method: 'POST', body: `companyKey=${body}&${RANGE}` }),
        400,
        new RegExp(`^companyKey is '${query}' in the query string but '${body}' in the body; give it in one place`),
      );
      await expectFail(
        getJson(`${url}?companyKey=${query}`, json, { method: 'POST', body: JSON.stringify({ companyKey: body, startTime: 1551441600000, endTime: 1556712000000 }) }),
        400,
        /^companyKey is .* in the query string but .* in the body/,
      );
    }
    await expectFail(create(`companyKey=demo&companyKey=acme&${RANGE}`), 400, /^companyKey was given 2 times; give it once/);
  });

  it('any parameter given in both places with different values is refused; the same value in both is one value', async () => {
    await expectFail(
      getJson(`${url}?companyKey=demo&startTime=1551441600000`, form, { method: 'POST', body: 'startTime=1551528000000&endTime=1556712000000' }),
      400,
      /^startTime is '1551441600000' in the query string but '1551528000000' in the body/,
    );
    await expectFail(
      getJson(`${url}?companyKey=demo&${RANGE}&reportMetrics=STATUS`, form, { method: 'POST', body: 'reportMetrics=STATUS&reportMetrics=PRIORITY' }),
      400,
      /^reportMetrics is 'STATUS' in the query string but 'STATUS', 'PRIORITY' in the body/,
    );
    const same = await getJson(`${url}?companyKey=demo&${RANGE}&reportMetrics=STATUS`, form, { method: 'POST', body: `companyKey=demo&${RANGE}&reportMetrics=STATUS` });
    assert.equal(same.status, 200, JSON.stringify(same.body));
  });

  it("status, download and cancel refuse a companyKey or token given twice rather than use one of them", async () => {
    const a = (await create(`companyKey=demo&${RANGE}&reportMetrics=TAGS`)).body.result as { workflowId: string; runId: string; statusUrl: string };
    const token = new URL(a.statusUrl).searchParams.get('analyticsAccessToken')!;
    const runPath = `${svc.base}/api/public/reports/report/${a.workflowId}/${encodeURIComponent(a.runId)}`;
    await expectFail(getJson(`${runPath}/status?companyKey=acme&companyKey=demo&analyticsAccessToken=${encodeURIComponent(token)}`, h), 400, /^companyKey was given 2 times/);
    await expectFail(getJson(`${runPath}/download?analyticsAccessToken=x&analyticsAccessToken=${encodeURIComponent(token)}`, h), 400, /^analyticsAccessToken was given 2 times/);
    await expectFail(getJson(`${runPath}/cancel?companyKey=demo`, form, { method: 'POST', body: 'companyKey=acme' }), 400, /^companyKey is 'demo' in the query string but 'acme' in the body/);
  });
});

describe('unknown export → 404', () => {
  it('care', () => expectFail(create(`companyKey=demo&${RANGE}`, h, 'conversations'), 404, /no Care export 'conversations'; did you mean \/api\/public\/reports\/report\/conversation\?/));
  it('a misspelled id, in either section and in discovery, is shown the export it is nearest', async () => {
    await expectFail(create(`companyKey=demo&${RANGE}`, h, 'team_performence_interval'), 404, /did you mean \/api\/public\/reports\/report\/team_performance_interval\?/);
    await expectFail(create(`companyKey=demo&${RANGE}`, h, 'raw_brand_posts'), 404, /no Care export 'raw_brand_posts'; did you mean \/api\/public\/reports\/report\/marketing\/raw_brand_post\?/);
    await expectFail(create(`companyKey=demo&${RANGE}`, h, 'marketing/Raw_Brand_Post'), 404, /did you mean \/api\/public\/reports\/report\/marketing\/raw_brand_post\?/);
    await expectFail(getJson(`${svc.base}/api/public/reports/exports/conversation_action`, h), 404, /there is no export 'conversation_action'; did you mean conversation_actions\?/);
    const far = await create(`companyKey=demo&${RANGE}`, h, 'tickets');
    assert.doesNotMatch(far.body.message ?? '', /did you mean/, 'nothing is near');
  });
  it('marketing', () => expectFail(create(`companyKey=demo&${RANGE}`, h, 'marketing/conversation'), 404, /conversation is a Care export; create it at \/api\/public\/reports\/report\/conversation/));
});

describe('authentication and authorisation', () => {
  it('no credentials → 401 with a Basic challenge', async () => {
    const r = await create(`companyKey=demo&${RANGE}`, {});
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate') ?? '', /^Basic realm=/);
    assert.equal(r.body.status, 'FAIL');
  });
  it('wrong password → 401', async () => {
    const r = await create(`companyKey=demo&${RANGE}`, basic('demo', 'wrong-password'));
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate') ?? '', /^Basic/);
    assert.match(r.body.message ?? '', /wrong username or password/);
  });
  it('unknown user → 401, same message', async () => {
    const r = await create(`companyKey=demo&${RANGE}`, basic('nobody'));
    assert.equal(r.status, 401);
    assert.match(r.body.message ?? '', /wrong username or password/);
  });
  it('user without the permission → 403', () =>
    expectFail(create(`companyKey=demo&${RANGE}`, basic('noperm')), 403, /does not have the Analytics Reports API permission/));
  it("another company's key → 403", () => expectFail(create(`companyKey=acme&${RANGE}`), 403, /companyKey 'acme' is not the company of user demo/));
});

describe("runs of another company, tokens and signed links", () => {
  const runOf = async (user: string, company: string, column = 'CONVERSATION_ID') => {
    const r = await create(`companyKey=${company}&${RANGE}&reportMetrics=${column}`, basic(user));
    assert.equal(r.status, 200);
    return r.body.result as { workflowId: string; runId: string; statusUrl: string };
  };

  it("another company's run → 404, the same as a missing run", async () => {
    const acme = await runOf('acme', 'acme');
    const path = `${svc.base}/api/public/reports/report/${acme.workflowId}/${encodeURIComponent(acme.runId)}`;
    const viaKey = await getJson(`${path}/status?companyKey=demo`, h);
    const viaToken = await getJson(acme.statusUrl, h);
    const missing = await getJson(`${svc.base}/api/public/reports/report/${acme.workflowId}/${encodeURIComponent('A'.repeat(43) + '=')}/status?companyKey=demo`, h);
    for (const r of [viaKey, viaToken, missing]) {
      assert.equal(r.status, 404);
      assert.equal(r.body.status, 'FAIL');
      assert.equal(r.body.code, 'RUN_NOT_FOUND');
    }
    const dl = await getJson(`${path}/download?companyKey=demo`, h);
    assert.equal(dl.status, 404);
    // The owner still sees it.
    assert.equal((await getJson(acme.statusUrl, basic('acme'))).status, 200);
  });

  it("a token of another run of the same company → 404", async () => {
    const a = await runOf('demo', 'demo');
    const b = await runOf('demo', 'demo', 'STATUS');
    const tokenB = new URL(b.statusUrl).searchParams.get('analyticsAccessToken')!;
    const r = await getJson(`${svc.base}/api/public/reports/report/${a.workflowId}/${encodeURIComponent(a.runId)}/status?analyticsAccessToken=${encodeURIComponent(tokenB)}`, h);
    assert.equal(r.status, 404);
  });

  it('malformed token → 400', async () => {
    const a = await runOf('demo', 'demo');
    await expectFail(
      getJson(`${svc.base}/api/public/reports/report/${a.workflowId}/${encodeURIComponent(a.runId)}/status?analyticsAccessToken=not-a-token`, h),
      400,
      /analyticsAccessToken is malformed/,
    );
  });

  it('neither companyKey nor token → 400', async () => {
    const a = await runOf('demo', 'demo');
    await expectFail(getJson(`${svc.base}/api/public/reports/report/${a.workflowId}/${encodeURIComponent(a.runId)}/status`, h), 400, /give companyKey or the analyticsAccessToken/);
  });

  it('a tampered signed link → 403, and the original still works', async () => {
    const a = await runOf('demo', 'demo');
    const closed = await waitClosed(a.statusUrl, h);
    const first = await fetch(closed.result.jobInfo.downloadUrl as string, { headers: h, redirect: 'manual' });
    const link = new URL(first.headers.get('location')!);
    const tampered = [
      new URL(link.href.replace(/\/files\/(\d+)\//, (_m, c: string) => `/files/${Number(c) + 1}/`)),
      new URL(link.href.replace(/expires=(\d+)/, (_m, e: string) => `expires=${Number(e) + 3600}`)),
      // A different first character of the signature (the same one would leave the link intact).
      new URL(link.href.replace(/signature=(.)/, (_m, c: string) => `signature=${c === 'A' ? 'B' : 'A'}`)),
    ];
    for (const t of tampered) {
      const r = await getJson(t.href);
      assert.equal(r.status, 403, t.href);
      assert.match(r.body.message ?? '', /download link is not valid/);
    }
    assert.equal((await fetch(link)).status, 200);
  });

  it('the service keeps serving after all of the above', async () => {
    const r = await getJson(`${svc.base}/healthz`);
    assert.equal(r.status, 200);
  });
});

describe('no parameter value makes a server error', () => {
  const awkward = [
    '', ' ', 'x', '0', '-1', '1.5', '1e309', 'NaN', 'Infinity', '9223372036854775808', '99999999999999999999999', '-9223372036854775809',
    '2019-02-30', '\u0000', '\ud800', '%', '\'; DROP TABLE companies; --', 'a,b,,c', ',', '1,2,3,4,5,6,7,8,9,10', 'true', 'TRUE',
    'x'.repeat(10_000), '8640000000000001', '-8640000000000001', '1551441600000',
  ];
  it('each parameter of each export, set to each of 26 awkward values: 200, 400 or 404, never 5xx', { timeout: 120_000 }, async () => {
    const cases: string[] = [];
    for (const e of EXPORTS) {
      const path = e.section === 'marketing' ? `marketing/${e.id}` : e.id;
      for (const p of [...COMMON_PARAMETERS, ...e.parameters, 'companyKey']) {
        for (const v of awkward) {
          const params = new URLSearchParams({ companyKey: 'demo', startTime: '1551441600000', endTime: '1551528000000' });
          params.set(p, v);
          cases.push(`${path}?${params.toString()}`);
        }
      }
    }
    const failures = await failuresOf(cases, async (q) => {
      const r = await getJson(`${svc.base}/api/public/reports/report/${q}`, h);
      return ![200, 400, 403, 404].includes(r.status) || r.body.status !== (r.status === 200 ? 'PASS' : 'FAIL') ? `${q.slice(0, 120)}: ${r.status} ${r.body.message}` : undefined;
    });
    assert.deepEqual(failures, [], `${failures.length} of ${cases.length} cases`);
  });

  it('the runs list, status, download and cancel with awkward values: 4xx, never 5xx', { timeout: 120_000 }, async () => {
    const b64 = (t: string) => Buffer.from(t).toString('base64url');
    const cursors = [b64('r9999999999999999999'), b64('r0'), b64('r-1'), b64('x'), '!!!', ''];
    const urls: [string, string][] = [];
    for (const p of ['state', 'exportId', 'createdFrom', 'createdTo', 'limit', 'cursor']) {
      for (const v of [...awkward, ...cursors]) urls.push(['GET', `${svc.base}/api/public/reports/runs?companyKey=demo&${p}=${v.isWellFormed() ? encodeURIComponent(v) : '%ED%A0%80'}`]);
    }
    const ids = ['x', '%2F', 'a'.repeat(44), `${'A'.repeat(43)}%3D`, encodeURIComponent('\u0000'), '..%2F..%2Fetc'];
    const workflows = ['x', '00000000-0000-0000-0000-000000000000', 'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz'];
    for (const w of workflows) {
      for (const r of ids) {
        for (const q of ['companyKey=demo', 'analyticsAccessToken=x', `analyticsAccessToken=${'A'.repeat(24)}`, 'companyKey=acme', '']) {
          for (const what of ['status', 'download']) urls.push(['GET', `${svc.base}/api/public/reports/report/${w}/${r}/${what}?${q}`]);
          urls.push(['DELETE', `${svc.base}/api/public/reports/report/${w}/${r}?${q}`], ['POST', `${svc.base}/api/public/reports/report/${w}/${r}/cancel?${q}`]);
        }
      }
    }
    const failures = await failuresOf(urls, ([method, url]) => envelopeProblem(method, url, { headers: h }));
    assert.deepEqual(failures, [], `${failures.length} of ${urls.length} cases`);
  });

  it('the directory, discovery, file links and ingest entities with awkward values: 4xx, never 5xx', { timeout: 120_000 }, async () => {
    const enc = (v: string) => (v.isWellFormed() ? encodeURIComponent(v) : '%ED%A0%80');
    const urls: [string, string, Record<string, string>][] = [];
    for (const v of [...awkward, '%ZZ', '..', '../..']) {
      const e = enc(v);
      urls.push(
        ['GET', `${svc.base}/api/public/config/timezones?locale=${e}`, h],
        ['GET', `${svc.base}/api/public/config/timezones?companyKey=${e}`, h],
        ['GET', `${svc.base}/api/public/teams?companyKey=${e}`, h],
        ['GET', `${svc.base}/api/public/reports/exports/${e}`, h],
        ['GET', `${svc.base}/api/public/reports/exports/marketing/${e}`, h],
        ['GET', `${svc.base}/files/${e}?expires=${e}&signature=${e}`, {}],
        ['GET', `${svc.base}/files/demo/x.csv?expires=${e}&signature=AAAA`, {}],
        ['POST', `${svc.base}/api/v2/ingest/${e}`, { ...h, 'Content-Type': 'application/x-ndjson' }],
        ['GET', `${svc.base}/api/public/teams?companyKey=demo`, { Authorization: `Basic ${Buffer.from(`${v}:${v}`).toString('base64')}` }],
        ['GET', `${svc.base}/api/public/teams?companyKey=demo`, { Authorization: `Basic ${e}` }],
      );
    }
    const failures = await failuresOf(urls, ([method, url, headers]) => envelopeProblem(method, url, { headers, ...(method === 'POST' ? { body: '{}\n' } : {}) }));
    assert.deepEqual(failures, [], `${failures.length} of ${urls.length} cases`);
  });

  it('a create whose JSON body is nested 100,000 deep: 400 in the envelope', async () => {
    const body = `{"companyKey":"demo","startTime":1551441600000,"endTime":1551528000000,"reportMetrics":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const r = await getJson(`${svc.base}/api/public/reports/report/conversation`, { ...h, 'Content-Type': 'application/json' }, { method: 'POST', body });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.status, 'FAIL');
  });
});
