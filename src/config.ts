/**
 * Service configuration: read from the environment once, validated, frozen.
 * Nothing else in the service reads `process.env`; each part receives the
 * slice it needs.
 */
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { UserError } from './errors.ts';

const port = z.coerce.number().int().min(1).max(65535);
const seconds = z.coerce.number().int().min(1);
const optionalString = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .optional();

const schema = z.object({
  PORT: port.default(8080),
  HOST: z.string().trim().min(1).default('localhost'),
  PUBLIC_URL: optionalString.pipe(z.url({ protocol: /^https?$/ }).optional()),
  DATA_DIR: z.string().trim().min(1).default('./.data'),
  DATABASE_URL: optionalString.pipe(z.url({ protocol: /^postgres(ql)?$/ }).optional()),
  DATABASE_OWNER_URL: optionalString.pipe(z.url({ protocol: /^postgres(ql)?$/ }).optional()),
  DATABASE_READ_URL: optionalString.pipe(
    z
      .string()
      .refine((v) => v.split(',').every((u) => /^postgres(ql)?:\/\/\S+$/.test(u.trim())), 'must be one postgres:// URL, or several separated by commas')
      .optional(),
  ),
  READ_REPLICA_WAIT_SECONDS: z.coerce.number().int().min(0).default(30),
  EMBEDDED_PG_PORT: port.default(54329),
  DEMO_PASSWORD: optionalString.pipe(z.string().min(8, 'the demo password needs at least 8 characters').optional()),
  DEMO_DATA: z.enum(['true', 'false']).default('true'),
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
  EXPORT_SLICES: z.coerce.number().int().min(1).max(32).default(Math.min(4, os.availableParallelism())),
  EXPORT_SLICE_MIN_ROWS: z.coerce.number().int().min(2).default(50_000),
  EXPORT_WORK_MEM_MB: z.coerce.number().int().min(1).max(2047).default(64),
  DOWNLOAD_URL_TTL_SECONDS: seconds.default(300),
  ACCESS_TOKEN_TTL_SECONDS: seconds.default(24 * 3600),
  COMPANY_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(2),
  CREATE_RATE_PER_MINUTE: z.coerce.number().int().min(1).default(20),
  MAX_RANGE_DAYS: z.coerce.number().int().min(1).default(400),
  MAX_EXPORT_ROWS: z.coerce.number().int().min(1).default(100_000_000),
  RETENTION_DAYS: z.coerce.number().positive().default(7),
  RUN_HISTORY_DAYS: z.coerce.number().positive().default(30),
  SHUTDOWN_GRACE_SECONDS: z.coerce.number().int().min(0).default(20),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  HEADERS_TIMEOUT_SECONDS: seconds.default(10),
  REQUEST_TIMEOUT_SECONDS: seconds.default(30),
  KEEP_ALIVE_TIMEOUT_SECONDS: seconds.default(5),
  IDLE_TIMEOUT_SECONDS: seconds.default(60),
  MAX_CONNECTIONS: z.coerce.number().int().min(1).default(500),
  LOGIN_FAILURES_PER_USER: z.coerce.number().int().min(1).default(10),
  LOGIN_FAILURES_PER_ADDRESS: z.coerce.number().int().min(1).default(100),
  LOGIN_THROTTLE_SECONDS: seconds.default(300),
  PASSWORD_CHECK_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(1),
  STORAGE_URL: optionalString.pipe(
    z
      .string()
      .regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/, 'must be s3://BUCKET or s3://BUCKET/PREFIX (a bucket name: 3-63 lowercase letters, digits, dots and hyphens); unset for local disk')
      .optional(),
  ),
  S3_ENDPOINT: optionalString.pipe(z.url({ protocol: /^https?$/ }).optional()),
  S3_REGION: optionalString,
  AWS_REGION: optionalString,
  AWS_DEFAULT_REGION: optionalString,
  S3_FORCE_PATH_STYLE: z.enum(['true', 'false']).default('false'),
}).refine((e) => e.HEADERS_TIMEOUT_SECONDS <= e.REQUEST_TIMEOUT_SECONDS, {
  path: ['HEADERS_TIMEOUT_SECONDS'],
  message: 'must not be more than REQUEST_TIMEOUT_SECONDS (the headers are part of the request)',
}).refine((e) => !e.STORAGE_URL || e.DOWNLOAD_URL_TTL_SECONDS <= 604_800, {
  path: ['DOWNLOAD_URL_TTL_SECONDS'],
  message: 'must be at most 604800 (7 days) with object storage: presigned links last no longer',
});

export interface Config {
  readonly port: number;
  readonly host: string;
  /** Base of every absolute URL the service hands out; never taken from a request's Host header. */
  readonly publicUrl: string;
  readonly dataDir: string;
  /** External PostgreSQL; when absent an embedded server is started under dataDir. */
  readonly databaseUrl: string | undefined;
  /** The owner role's URL for migrations; DATABASE_URL's role when unset. */
  readonly databaseOwnerUrl: string | undefined;
  /** Read replicas the exports read (runs, queue and ingest stay on the primary); empty: the primary serves them. */
  readonly databaseReadUrls: readonly string[];
  /** How long a run waits for a replica to replay what was committed before it; then the primary serves it. */
  readonly readReplicaWaitSeconds: number;
  readonly embeddedPgPort: number;
  readonly demoPassword: string | undefined;
  /** Fill company `demo` on the first start of an empty embedded database. */
  readonly demoData: boolean;
  readonly workerConcurrency: number;
  /** Large CSV and JSON exports are copied in up to this many slices at once, each over a connection of its own. */
  readonly exportSlices: number;
  /** Exports with fewer rows are copied in one piece. */
  readonly exportSliceMinRows: number;
  /** PostgreSQL's work_mem (MB) for an export's queries: what each sort of each slice may use before it spills to disk (a hash, hash_mem_multiplier times as much). */
  readonly exportWorkMemMb: number;
  readonly downloadUrlTtlSeconds: number;
  readonly accessTokenTtlSeconds: number;
  /** Exports of one company running at once, across all workers. */
  readonly companyConcurrency: number;
  /** Runs one user may create per minute. */
  readonly createRatePerMinute: number;
  readonly maxRangeDays: number;
  readonly maxExportRows: number;
  /** How long a completed run's file is kept. */
  readonly retentionDays: number;
  /** How long a run's record is kept after its file is gone (its download answers 410 meanwhile). */
  readonly runHistoryDays: number;
  /** How long a stopping worker lets its current exports finish before handing them back. */
  readonly shutdownGraceSeconds: number;
  readonly logLevel: string;
  /** What one HTTP connection may hold of the API process. */
  readonly http: HttpLimits;
  /** Failed logins and password checks. */
  readonly logins: LoginLimits;
  /** Where export files live. */
  readonly storage: StorageConfig;
}

/** Export files on local disk under DATA_DIR, or in an S3-compatible bucket. */
export type StorageConfig =
  | { readonly kind: 'local' }
  | {
      readonly kind: 's3';
      readonly bucket: string;
      /** Key prefix without slashes at either end; empty for the bucket's root. */
      readonly prefix: string;
      readonly endpoint: string | undefined;
      readonly region: string;
      readonly forcePathStyle: boolean;
    };

export interface HttpLimits {
  /** The request line and headers must have arrived within this time (else 408, closed). */
  readonly headersTimeoutMs: number;
  /** The whole request, body included, must have arrived within this time (else 408, closed). */
  readonly requestTimeoutMs: number;
  /** A connection waiting for its next request is closed after this time. */
  readonly keepAliveTimeoutMs: number;
  /** A connection on which nothing moves either way for this long is closed. */
  readonly idleTimeoutMs: number;
  /** Connections one process holds at once; more are closed as they arrive. */
  readonly maxConnections: number;
}

export interface LoginLimits {
  /** Failed logins for one username within the window, after which every login as that user is refused until it ends. */
  readonly failuresPerUser: number;
  /** Failed logins from one client address within the window, after which every login from it is refused until it ends. */
  readonly failuresPerAddress: number;
  readonly windowSeconds: number;
  /** Password checks (scrypt) one process runs at once; the rest wait their turn. */
  readonly passwordCheckConcurrency: number;
}

export class ConfigError extends UserError {
  override name = 'ConfigError';
}

/** Parses and validates the environment; throws a ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid environment:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const publicUrl = (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, '');
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    publicUrl,
    dataDir: path.resolve(e.DATA_DIR),
    databaseUrl: e.DATABASE_URL,
    databaseOwnerUrl: e.DATABASE_OWNER_URL,
    databaseReadUrls: Object.freeze((e.DATABASE_READ_URL ?? '').split(',').map((u) => u.trim()).filter(Boolean)),
    readReplicaWaitSeconds: e.READ_REPLICA_WAIT_SECONDS,
    embeddedPgPort: e.EMBEDDED_PG_PORT,
    demoPassword: e.DEMO_PASSWORD,
    demoData: e.DEMO_DATA === 'true',
    workerConcurrency: e.WORKER_CONCURRENCY,
    exportSlices: e.EXPORT_SLICES,
    exportSliceMinRows: e.EXPORT_SLICE_MIN_ROWS,
    exportWorkMemMb: e.EXPORT_WORK_MEM_MB,
    downloadUrlTtlSeconds: e.DOWNLOAD_URL_TTL_SECONDS,
    accessTokenTtlSeconds: e.ACCESS_TOKEN_TTL_SECONDS,
    companyConcurrency: e.COMPANY_CONCURRENCY,
    createRatePerMinute: e.CREATE_RATE_PER_MINUTE,
    maxRangeDays: e.MAX_RANGE_DAYS,
    maxExportRows: e.MAX_EXPORT_ROWS,
    retentionDays: e.RETENTION_DAYS,
    runHistoryDays: e.RUN_HISTORY_DAYS,
    shutdownGraceSeconds: e.SHUTDOWN_GRACE_SECONDS,
    logLevel: e.LOG_LEVEL,
    http: Object.freeze({
      headersTimeoutMs: e.HEADERS_TIMEOUT_SECONDS * 1000,
      requestTimeoutMs: e.REQUEST_TIMEOUT_SECONDS * 1000,
      keepAliveTimeoutMs: e.KEEP_ALIVE_TIMEOUT_SECONDS * 1000,
      idleTimeoutMs: e.IDLE_TIMEOUT_SECONDS * 1000,
      maxConnections: e.MAX_CONNECTIONS,
    }),
    logins: Object.freeze({
      failuresPerUser: e.LOGIN_FAILURES_PER_USER,
      failuresPerAddress: e.LOGIN_FAILURES_PER_ADDRESS,
      windowSeconds: e.LOGIN_THROTTLE_SECONDS,
      passwordCheckConcurrency: e.PASSWORD_CHECK_CONCURRENCY,
    }),
    storage: storageConfig(e),
  });
}

function storageConfig(e: z.infer<typeof schema>): StorageConfig {
  if (!e.STORAGE_URL) return { kind: 'local' };
  const [bucket, ...rest] = e.STORAGE_URL.slice('s3://'.length).split('/');
  return Object.freeze({
    kind: 's3',
    bucket: bucket!,
    prefix: rest.filter(Boolean).join('/'),
    endpoint: e.S3_ENDPOINT,
    // The SDK's own variables when S3_REGION is unset.
    region: e.S3_REGION ?? e.AWS_REGION ?? e.AWS_DEFAULT_REGION ?? 'us-east-1',
    forcePathStyle: e.S3_FORCE_PATH_STYLE === 'true',
  });
}
