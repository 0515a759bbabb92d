/**
 * The TypeScript client of the Analytics Reports API: create a run, wait for
 * it (backing off, honouring Retry-After), download its file (following the
 * 307 without sending credentials to the file link, resuming with HTTP Range
 * after a cut, checking the size). Works against this service and any server
 * that speaks the same API. Errors are typed and carry the server's message.
 */
import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Writable } from 'node:stream';
import { UserError, type UserExit } from '../errors.ts';
import type { ExportDescription } from '../exports/catalog/describe.ts';
import type { ReportFormat } from '../exports/catalog/formats.ts';
import { secondsProblem } from '../exports/epoch-ms.ts';

export type { ReportFormat };

/** What failed: the request (bad input), the credentials, the server or the run, or the network. */
export type ErrorKind = 'bad-input' | 'auth' | 'not-found' | 'server' | 'network';

/** The command line's exit code for each kind. */
const EXIT_OF_KIND = { 'bad-input': 'BAD_INPUT', 'not-found': 'BAD_INPUT', auth: 'AUTH', server: 'SERVER', network: 'NETWORK' } as const satisfies Record<ErrorKind, UserExit>;

export class CareReportsError extends UserError {
  override name = 'CareReportsError';
  readonly kind: ErrorKind;
  /** HTTP status, when the server answered. */
  readonly status: number | undefined;
  constructor(kind: ErrorKind, message: string, status?: number) {
    super(message, EXIT_OF_KIND[kind]);
    this.kind = kind;
    this.status = status;
  }
}

export interface ClientOptions {
  /** e.g. http://localhost:8080 (no trailing /api/public). */
  readonly baseUrl: string;
  readonly username: string;
  readonly password: string;
  /** Attempts for a request that met a network error, 429 or 5xx. */
  readonly retries?: number;
  readonly fetch?: typeof fetch;
}

export type Params = Record<string, string | number | boolean | readonly (string | number)[]>;

/** A create call's parameters, named as the API names them: the file's format and CSV escaping typed, an export's own filters as they are. */
export type ExportParams = Params & {
  /** The API's default is json. xlsx: a spreadsheet whose text cells are never run as formulas, with number and date cells. */
  readonly reportFormat?: ReportFormat;
  /** With reportFormat csv: a text value starting with = + - @ tab or CR gets a leading ', so a spreadsheet shows it as text. */
  readonly csvEscapeFormulas?: boolean;
};

export interface CreatedRun {
  readonly workflowId: string;
  readonly runId: string;
  readonly statusUrl: string;
}

export interface RunStatus {
  readonly runnerState: 'RUNNING' | 'CLOSED';
  readonly detail: '' | 'COMPLETED' | 'FAILED' | 'CANCELED';
  readonly reason: string | null;
  readonly currentCount: number | null;
  readonly totalCount: number | null;
  readonly lastAcknowledgeTime: number | null;
  /** The completed file's size and SHA-256 (lowercase hex); null until it completes. */
  readonly fileBytes?: number | null;
  readonly fileSha256?: string | null;
  readonly queuePosition?: number | null;
  readonly downloadUrl: string;
  readonly statusUrl: string;
}

interface Envelope<T> {
  status: 'PASS' | 'FAIL';
  message: string | null;
  result: T;
}

export class CareReportsClient {
  private readonly base: string;
  private readonly authHeader: string;
  private readonly retries: number;
  private readonly fetch: typeof fetch;

  constructor(opts: ClientOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, '');
    this.authHeader = `Basic ${Buffer.from(`${opts.username}:${opts.password}`).toString('base64')}`;
    this.retries = opts.retries ?? 5;
    this.fetch = opts.fetch ?? fetch;
  }

  /** Creates a run of `exportPath` (`conversation`, `marketing/raw_brand_post`, …). */
  async createExport(exportPath: string, params: ExportParams, opts: { idempotencyKey?: string } = {}): Promise<CreatedRun> {
    refuseSeconds(params, ['startTime', 'endTime']);
    const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded' };
    // A retried create must not become a second run: without a key of the caller's, one is made here.
    headers['Idempotency-Key'] = opts.idempotencyKey ?? `sdk-${crypto.randomUUID()}`;
    const companyKey = String(params['companyKey'] ?? '');
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (k === 'companyKey') continue; // sent in the query
      for (const item of Array.isArray(v) ? v : [v]) body.append(k, String(item as string | number | boolean));
    }
    return this.api<CreatedRun>(`/api/public/reports/report/${exportPath}?companyKey=${encodeURIComponent(companyKey)}`, {
      method: 'POST',
      headers,
      body: body.toString(),
    });
  }

  async status(statusUrl: string): Promise<RunStatus> {
    const r = await this.api<{ jobInfo: { downloadUrl: string; statusUrl: string }; result: Omit<RunStatus, 'downloadUrl' | 'statusUrl'> }>(statusUrl);
    return { ...r.result, downloadUrl: r.jobInfo.downloadUrl, statusUrl: r.jobInfo.statusUrl };
  }

  /** Polls until the run closes; a FAILED or CANCELED run is an error with the server's reason. */
  async waitForRun(statusUrl: string, opts: { onStatus?: (s: RunStatus) => void; signal?: AbortSignal; maxIntervalMs?: number } = {}): Promise<RunStatus> {
    let interval = 200;
    for (;;) {
      const s = await this.status(statusUrl);
      opts.onStatus?.(s);
      if (s.runnerState === 'CLOSED') {
        if (s.detail === 'COMPLETED') return s;
        throw new CareReportsError('server', `the run closed as ${s.detail}: ${s.reason ?? 'no reason given'}`);
      }
      await sleep(interval, undefined, opts.signal ? { signal: opts.signal } : {});
      interval = Math.min(interval * 1.5, opts.maxIntervalMs ?? 2000);
    }
  }

  /**
   * Downloads a completed run's file to `dest` (a path, or a stream). To a
   * path, the bytes go to `dest.part` and are renamed when complete; a cut
   * transfer resumes where it stopped with a Range request.
   */
  async download(
    downloadUrl: string,
    dest: string | Writable,
    opts: {
      onBytes?: (received: number, total: number | null) => void;
      /** The run's status: the file's size and SHA-256 there are checked against what arrived (a mismatch is an error, and a path is not written). */
      expect?: Pick<RunStatus, 'fileBytes' | 'fileSha256'>;
    } = {},
  ): Promise<number> {
    const link = await this.fileLink(downloadUrl);
    if (typeof dest !== 'string') {
      const hash = createHash('sha256');
      const n = await this.streamTo(link, dest, opts.onBytes, hash);
      checkFile(n, hash.digest('hex'), opts.expect);
      return n;
    }
    const part = `${dest}.part`;
    await fsp.rm(part, { force: true });
    let total: number | null = null;
    for (let attempt = 0; ; attempt++) {
      const have = (await fsp.stat(part).catch(() => undefined))?.size ?? 0;
      try {
        const res = await this.fetch(link, have > 0 ? { headers: { Range: `bytes=${have}-` } } : {});
        if (res.status === 403) throw new CareReportsError('auth', 'the file link expired; call the download URL again', 403);
        if (res.status !== 200 && res.status !== 206) throw new CareReportsError('server', `the file link answered ${res.status}`, res.status);
        if (have > 0 && res.status !== 206) await fsp.rm(part, { force: true }); // the server ignored Range: start over
        total = res.status === 206 ? Number(/\/(\d+)$/.exec(res.headers.get('content-range') ?? '')?.[1] ?? NaN) : Number(res.headers.get('content-length') ?? NaN);
        if (!Number.isFinite(total)) total = null;
        const out = fs.createWriteStream(part, { flags: res.status === 206 ? 'a' : 'w' });
        // A whole transfer is hashed as it arrives; a resumed one is read back once complete.
        const hash = res.status === 200 && opts.expect ? createHash('sha256') : undefined;
        await pump(res, out, res.status === 206 ? have : 0, (n) => opts.onBytes?.(n, total), true, hash);
        const size = (await fsp.stat(part)).size;
        if (total !== null && size !== total) throw new Error(`received ${size} of ${total} bytes`);
        if (opts.expect) {
          try {
            checkFile(size, hash ? hash.digest('hex') : await sha256Of(part), opts.expect);
          } catch (e) {
            await fsp.rm(part, { force: true });
            throw e;
          }
        }
        await fsp.rename(part, dest);
        return size;
      } catch (e) {
        if (e instanceof CareReportsError || attempt >= this.retries) throw asNetworkError(e);
        await sleep(Math.min(250 * 2 ** attempt, 5000));
      }
    }
  }

  /** Every export the server describes (discovery is an extension of this service). */
  async listExports(): Promise<ExportDescription[]> {
    return this.api<ExportDescription[]>('/api/public/reports/exports');
  }

  async describeExport(exportId: string): Promise<ExportDescription> {
    return this.api<ExportDescription>(`/api/public/reports/exports/${exportId}`);
  }

  async listRuns(params: Record<string, string>): Promise<{ runs: (RunStatus & { exportId: string; runId: string; workflowId: string; state: string; createdTime: number })[]; nextCursor: string | null }> {
    refuseSeconds(params, ['createdFrom', 'createdTo']);
    return this.api(`/api/public/reports/runs?${new URLSearchParams(params).toString()}`);
  }

  async cancelRun(workflowId: string, runId: string, companyKey: string): Promise<RunStatus> {
    const r = await this.api<{ jobInfo: { downloadUrl: string; statusUrl: string }; result: Omit<RunStatus, 'downloadUrl' | 'statusUrl'> }>(
      `/api/public/reports/report/${workflowId}/${encodeURIComponent(runId)}?companyKey=${encodeURIComponent(companyKey)}`,
      { method: 'DELETE' },
    );
    return { ...r.result, downloadUrl: r.jobInfo.downloadUrl, statusUrl: r.jobInfo.statusUrl };
  }

  /** The signed file link the download URL redirects to (credentials go to the API only). */
  private async fileLink(downloadUrl: string): Promise<string> {
    const res = await this.request(downloadUrl, { redirect: 'manual' });
    if (res.status === 307 || res.status === 302) {
      const location = res.headers.get('location');
      if (!location) throw new CareReportsError('server', 'the download answered a redirect without a Location');
      return new URL(location, downloadUrl).toString();
    }
    return this.fail(res);
  }

  private async streamTo(link: string, out: Writable, onBytes?: (n: number, total: number | null) => void, hash?: Hash): Promise<number> {
    const res = await this.fetch(link).catch((e: unknown) => {
      throw asNetworkError(e);
    });
    if (res.status !== 200) throw new CareReportsError('server', `the file link answered ${res.status}`, res.status);
    const total = Number(res.headers.get('content-length') ?? NaN);
    const n = await pump(res, out, 0, (x) => onBytes?.(x, Number.isFinite(total) ? total : null), false, hash);
    if (Number.isFinite(total) && n !== total) throw new CareReportsError('network', `received ${n} of ${total} bytes`);
    return n;
  }

  private async api<T>(pathOrUrl: string, init: RequestInit = {}): Promise<T> {
    const res = await this.request(pathOrUrl, init);
    if (res.status !== 200) await this.fail(res);
    return ((await res.json()) as Envelope<T>).result;
  }

  /** One API call with credentials; retries network errors, 429 (after Retry-After) and 5xx. */
  private async request(pathOrUrl: string, init: RequestInit): Promise<Response> {
    const url = pathOrUrl.startsWith('http') ? pathOrUrl : `${this.base}${pathOrUrl}`;
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await this.fetch(url, { ...init, headers: { ...(init.headers as Record<string, string>), Authorization: this.authHeader } });
      } catch (e) {
        if (attempt >= this.retries) throw asNetworkError(e);
        await sleep(Math.min(250 * 2 ** attempt, 5000));
        continue;
      }
      if ((res.status === 429 || res.status >= 500) && attempt < this.retries) {
        const after = Number(res.headers.get('retry-after'));
        await res.body?.cancel();
        await sleep(Number.isFinite(after) && after > 0 ? after * 1000 : Math.min(500 * 2 ** attempt, 10_000));
        continue;
      }
      return res;
    }
  }

  private async fail(res: Response): Promise<never> {
    const text = await res.text();
    let message = text;
    try {
      message = (JSON.parse(text) as Envelope<unknown>).message ?? text;
    } catch {
      // not the API's envelope
    }
    const kind: ErrorKind =
      res.status === 401 || res.status === 403 ? 'auth' : res.status === 404 ? 'not-found' : res.status >= 400 && res.status < 500 ? 'bad-input' : 'server';
    throw new CareReportsError(kind, `${res.status}: ${message}`, res.status);
  }
}

/** Times are epoch milliseconds: one in seconds is refused before it is sent, as the server would refuse it. */
function refuseSeconds(params: Readonly<Record<string, unknown>>, names: readonly string[]): void {
  for (const name of names) {
    const v = params[name];
    const problem = secondsProblem(name, typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN);
    if (problem) throw new CareReportsError('bad-input', problem);
  }
}

function asNetworkError(e: unknown): Error {
  if (e instanceof CareReportsError) return e;
  return new CareReportsError('network', `network failure: ${e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e)}`);
}

/** Copies a response body into `out`, reporting the running byte count (starting at `offset`). */
async function pump(res: Response, out: Writable, offset: number, onBytes: (n: number) => void, end = true, hash?: Hash): Promise<number> {
  let n = 0;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      n += chunk.length;
      hash?.update(chunk);
      if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
      onBytes(offset + n);
    }
  } finally {
    if (end) await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  }
  return n;
}

/** Throws when the file's size or SHA-256 differs from what the run says it published. */
function checkFile(bytes: number, sha256: string, expect: Pick<RunStatus, 'fileBytes' | 'fileSha256'> | undefined): void {
  if (typeof expect?.fileBytes === 'number' && bytes !== expect.fileBytes) {
    throw new CareReportsError('network', `the file arrived with ${bytes} bytes, but the run published ${expect.fileBytes}; download it again`);
  }
  if (expect?.fileSha256 && sha256 !== expect.fileSha256) {
    throw new CareReportsError('network', `the file's SHA-256 is ${sha256}, but the run published ${expect.fileSha256}; download it again`);
  }
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
