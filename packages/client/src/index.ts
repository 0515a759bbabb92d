/**
 * The client of the Analytics Reports API, for browsers and Node.js: create
 * a run, wait for it (backing off, honouring Retry-After), and fetch its file
 * through the signed link (credentials go to the API only, never to the
 * link). Nothing here needs more than the platform: `fetch`, Web Streams,
 * Web Crypto. Works against care-reports and any server that speaks the
 * same API. Errors are `CareReportsError`s with a `kind` and the server's
 * message. Node.js adds downloads to a path (`@care-reports/client/node`).
 */
import type { ExportParameters, ExportPath } from './catalog.ts';
import { secondsProblem } from './epoch-ms.ts';
import { PollSchedule } from './poll.ts';

export * from './catalog.ts';
export { MIN_EPOCH_MS, secondsProblem } from './epoch-ms.ts';
export { parseInstant } from './instant.ts';
export { PollSchedule, type PollScheduleOptions, type Progress } from './poll.ts';

/** What failed: the request (bad input), the credentials, the server or the run, or the network. */
export type ErrorKind = 'bad-input' | 'auth' | 'not-found' | 'server' | 'network';

export class CareReportsError extends Error {
  override name = 'CareReportsError';
  readonly kind: ErrorKind;
  /** HTTP status, when the server answered. */
  readonly status: number | undefined;
  constructor(kind: ErrorKind, message: string, status?: number) {
    super(message);
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

/** Parameters of an export not known when the program is compiled (a command line's flags): sent as they are. */
export type RawParams = Readonly<Record<string, string | number | boolean | readonly (string | number)[]>>;

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

/** One run in a listing. */
export type ListedRun = RunStatus & { readonly exportId: string; readonly runId: string; readonly workflowId: string; readonly state: string; readonly createdTime: number };

/** An export as the server's discovery describes it. */
export interface ExportDescription {
  readonly exportId: string;
  readonly section: 'care' | 'marketing';
  readonly path: string;
  readonly description: string;
  readonly grain: string;
  readonly columns: readonly { readonly name: string; readonly type: string; readonly description: string }[];
  readonly parameters: readonly { readonly name: string; readonly type: string; readonly required: boolean; readonly description: string }[];
}

/** A completed run's file as it arrives. */
export interface FileBody {
  readonly body: ReadableStream<Uint8Array>;
  /** From Content-Length (or Content-Range); null when the server gives none. */
  readonly totalBytes: number | null;
  /** 206 when the server honoured the `from` offset. */
  readonly status: 200 | 206;
}

/** What the status and cancel calls answer. */
interface StatusAnswer {
  readonly jobInfo: { readonly downloadUrl: string; readonly statusUrl: string };
  readonly result: Omit<RunStatus, 'downloadUrl' | 'statusUrl'>;
}

const statusOf = (r: StatusAnswer): RunStatus => ({ ...r.result, downloadUrl: r.jobInfo.downloadUrl, statusUrl: r.jobInfo.statusUrl });

interface Envelope<T> {
  status: 'PASS' | 'FAIL';
  message: string | null;
  result: T;
}

export class CareReportsClient {
  private readonly base: string;
  private readonly authHeader: string;
  protected readonly retries: number;
  protected readonly fetch: typeof fetch;

  constructor(opts: ClientOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, '');
    this.authHeader = `Basic ${base64(`${opts.username}:${opts.password}`)}`;
    this.retries = opts.retries ?? 5;
    this.fetch = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /**
   * Creates a run of the export at `exportPath` (`conversation`,
   * `marketing/raw_brand_post`, …) with parameters checked by the compiler
   * against what that export takes.
   */
  createExport<P extends ExportPath>(exportPath: P, params: ExportParameters[P], opts: { idempotencyKey?: string } = {}): Promise<CreatedRun> {
    return this.createExportRaw(exportPath, params as unknown as RawParams, opts);
  }

  /** Creates a run from parameters known only at run time; the server checks them. */
  async createExportRaw(exportPath: string, params: RawParams, opts: { idempotencyKey?: string } = {}): Promise<CreatedRun> {
    refuseSeconds(params, ['startTime', 'endTime']);
    const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded' };
    // A retried create must not become a second run: without a key of the caller's, one is made here.
    headers['Idempotency-Key'] = opts.idempotencyKey ?? `sdk-${randomId()}`;
    const companyKey = String(params['companyKey'] ?? '');
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (k === 'companyKey' || v === undefined) continue; // sent in the query
      for (const item of Array.isArray(v) ? v : [v]) body.append(k, String(item as string | number | boolean));
    }
    return this.api<CreatedRun>(`/api/public/reports/report/${exportPath}?companyKey=${encodeURIComponent(companyKey)}`, {
      method: 'POST',
      headers,
      body: body.toString(),
    });
  }

  async status(statusUrl: string): Promise<RunStatus> {
    return statusOf(await this.api<StatusAnswer>(statusUrl));
  }

  /**
   * Polls until the run closes, as a PollSchedule says: less and less often,
   * and, once the run's progress shows when it should end, closing in on
   * then. A FAILED or CANCELED run is an error with the server's reason.
   */
  async waitForRun(statusUrl: string, opts: { onStatus?: (s: RunStatus) => void; signal?: AbortSignal; maxIntervalMs?: number } = {}): Promise<RunStatus> {
    const schedule = new PollSchedule({ maxIntervalMs: opts.maxIntervalMs });
    for (;;) {
      const askedAt = schedule.now();
      const s = await this.status(statusUrl);
      opts.onStatus?.(s);
      if (s.runnerState === 'CLOSED') {
        if (s.detail === 'COMPLETED') return s;
        throw new CareReportsError('server', `the run closed as ${s.detail}: ${s.reason ?? 'no reason given'}`);
      }
      await sleep(schedule.next(s, askedAt), opts.signal);
    }
  }

  /**
   * The short-lived signed link a completed run's download URL redirects to:
   * fetch it without credentials, or hand it on. Not in a browser, which hides
   * where a redirect leads from scripts: there `openDownload` gives the file.
   */
  async downloadLink(downloadUrl: string): Promise<string> {
    const res = await this.request(downloadUrl, { redirect: 'manual' });
    if (res.type === 'opaqueredirect') {
      throw new CareReportsError('bad-input', 'a browser does not show scripts where a redirect leads: use openDownload(downloadUrl) for the file');
    }
    if (res.status === 307 || res.status === 302) {
      const location = res.headers.get('location');
      if (!location) throw new CareReportsError('server', 'the download answered a redirect without a Location');
      return new URL(location, downloadUrl).toString();
    }
    return this.fail(res);
  }

  /**
   * A completed run's file as a stream, the download's redirect followed by
   * the platform (a browser drops the credentials when the link is on
   * another origin, as object storage is).
   */
  async openDownload(downloadUrl: string, opts: { signal?: AbortSignal } = {}): Promise<FileBody> {
    const res = await this.request(downloadUrl, { redirect: 'follow', ...(opts.signal ? { signal: opts.signal } : {}) });
    if (res.status === 403) throw new CareReportsError('auth', 'the file link expired; call the download URL again', 403);
    if (res.status !== 200 || !res.body) return this.fail(res);
    return { body: res.body, totalBytes: totalBytesOf(res), status: 200 };
  }

  /** The file behind a signed link, as a stream; `from` resumes at that byte (a 206 when the server honours it). */
  async openFile(link: string, opts: { from?: number; signal?: AbortSignal } = {}): Promise<FileBody> {
    const from = opts.from ?? 0;
    const res = await this.fetch(link, { ...(from > 0 ? { headers: { Range: `bytes=${from}-` } } : {}), ...(opts.signal ? { signal: opts.signal } : {}) }).catch((e: unknown) => {
      throw asNetworkError(e);
    });
    if (res.status === 403) throw new CareReportsError('auth', 'the file link expired; call the download URL again', 403);
    if ((res.status !== 200 && res.status !== 206) || !res.body) throw new CareReportsError('server', `the file link answered ${res.status}`, res.status);
    return { body: res.body, totalBytes: totalBytesOf(res), status: res.status };
  }

  /** Every export the server describes (discovery is an extension of care-reports). */
  async listExports(): Promise<ExportDescription[]> {
    return this.api<ExportDescription[]>('/api/public/reports/exports');
  }

  async describeExport(exportId: string): Promise<ExportDescription> {
    return this.api<ExportDescription>(`/api/public/reports/exports/${exportId}`);
  }

  async listRuns(params: Readonly<Record<string, string>>): Promise<{ runs: ListedRun[]; nextCursor: string | null }> {
    refuseSeconds(params, ['createdFrom', 'createdTo']);
    return this.api(`/api/public/reports/runs?${new URLSearchParams(params).toString()}`);
  }

  async cancelRun(workflowId: string, runId: string, companyKey: string): Promise<RunStatus> {
    return statusOf(
      await this.api<StatusAnswer>(`/api/public/reports/report/${workflowId}/${encodeURIComponent(runId)}?companyKey=${encodeURIComponent(companyKey)}`, { method: 'DELETE' }),
    );
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

/** The whole file's size: from Content-Range in a 206, else Content-Length; null when the server gives none. */
function totalBytesOf(res: Response): number | null {
  const total = Number((res.status === 206 ? /\/(\d+)$/.exec(res.headers.get('content-range') ?? '')?.[1] : res.headers.get('content-length')) ?? NaN);
  return Number.isFinite(total) ? total : null;
}

/** Throws when a file's size or SHA-256 differs from what its run says it published. */
export function checkFile(bytes: number, sha256: string, expect: Pick<RunStatus, 'fileBytes' | 'fileSha256'> | undefined): void {
  if (typeof expect?.fileBytes === 'number' && bytes !== expect.fileBytes) {
    throw new CareReportsError('network', `the file arrived with ${bytes} bytes, but the run published ${expect.fileBytes}; download it again`);
  }
  if (expect?.fileSha256 && sha256 !== expect.fileSha256) {
    throw new CareReportsError('network', `the file's SHA-256 is ${sha256}, but the run published ${expect.fileSha256}; download it again`);
  }
}

/** Any failure as a CareReportsError: those pass, the rest are network failures. */
export function asNetworkError(e: unknown): CareReportsError {
  if (e instanceof CareReportsError) return e;
  return new CareReportsError('network', `network failure: ${e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e)}`);
}

/** Times are epoch milliseconds: one in seconds is refused before it is sent, as the server would refuse it. */
function refuseSeconds(params: Readonly<Record<string, unknown>>, names: readonly string[]): void {
  for (const name of names) {
    const v = params[name];
    const problem = secondsProblem(name, typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN);
    if (problem) throw new CareReportsError('bad-input', problem);
  }
}

/** Waits `ms`; rejects at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A random UUID (v4); also on a page served over plain http, where crypto.randomUUID is absent. */
function randomId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Base64 of a text's UTF-8 bytes (btoa alone takes Latin-1 only). */
function base64(text: string): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

