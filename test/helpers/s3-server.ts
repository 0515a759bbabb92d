/**
 * The S3-compatible test server: s3rver (from npm) in a process of its own,
 * on 127.0.0.1 and a free port. Run as `node s3-server.ts DIR`, it stores
 * under DIR, appends "METHOD URL" of every request to DIR/requests.log and
 * prints "listening PORT" once it accepts connections.
 *
 * s3rver 3.7.1 lacks two standard calls on multipart uploads, which are
 * answered here as S3 answers them: AbortMultipartUpload (DELETE with
 * `uploadId`: the upload and its parts are removed; 404 NoSuchUpload for an
 * unknown one) and ListMultipartUploads (GET on the bucket with `uploads`),
 * which tests use to see that no upload is left open. It also refuses, as
 * S3 does, a part numbered outside 1–10,000, and to complete an upload with a
 * part under the minimum size (5 MiB, or what the test sets) that is not its
 * last part. For the bench it can stand for a store across a network: each
 * upload request then takes at least its size over `uploadMbPerSecond`, as
 * one connection to S3 does.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

export interface S3Server {
  readonly endpoint: string;
  /** s3rver's request log, one line per request. */
  readonly logFile: string;
  stop(): Promise<void>;
}

/** S3's least size of a part that is not the last of its upload. */
const S3_MIN_PART_BYTES = 5 * 1024 * 1024;

export async function startS3Server(options: { minPartBytes?: number; uploadMbPerSecond?: number } = {}): Promise<S3Server> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'care-reports-s3-'));
  const args = [import.meta.filename, dir, String(options.minPartBytes ?? S3_MIN_PART_BYTES), String(options.uploadMbPerSecond ?? 0)];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    const take = (d: Buffer) => {
      out += d.toString();
      const m = /^listening (\d+)$/m.exec(out);
      if (m) resolve(Number(m[1]));
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.once('exit', (code) => reject(new Error(`the S3 test server exited with ${code}: ${out}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    endpoint: `http://127.0.0.1:${port}`,
    logFile: path.join(dir, 'requests.log'),
    async stop() {
      child.kill('SIGTERM');
      await exited;
      await fsp.rm(dir, { recursive: true, force: true });
    },
  };
}

if (import.meta.main) await serve(process.argv[2]!, Number(process.argv[3]), Number(process.argv[4]));

async function serve(dir: string, minPartBytes: number, uploadMbPerSecond: number): Promise<void> {
  const { default: S3rver } = await import('s3rver');
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  const log = fs.createWriteStream(path.join(dir, 'requests.log'), { flags: 'a' });
  const app = new S3rver({ directory: path.join(dir, 'data'), silent: true, vhostBuckets: false });
  const handle = app.callback();
  /** Bytes of each part accepted, by upload id and part number. */
  const partBytes = new Map<string, Map<number, number>>();
  const server = http.createServer((req, res) => {
    log.write(`${req.method} ${req.url}\n`);
    const url = new URL(req.url ?? '/', 'http://s3');
    const [bucket, ...key] = url.pathname.slice(1).split('/').map(decodeURIComponent);
    const uploads = path.join(dir, 'data', bucket ?? '', '._S3rver_uploads');
    if (req.method === 'DELETE' && url.searchParams.has('uploadId')) {
      const upload = path.join(uploads, path.basename(url.searchParams.get('uploadId')!));
      let ownKey: string | undefined;
      try {
        ownKey = fs.readFileSync(path.join(upload, 'key'), 'utf8');
      } catch {
        // unknown upload
      }
      if (ownKey !== key.join('/')) return s3Error(res, 404, 'NoSuchUpload', 'The specified upload does not exist.');
      fs.rmSync(upload, { recursive: true, force: true });
      res.writeHead(204).end();
      return;
    }
    // s3rver stores a part for any upload id, even one aborted; S3 refuses it.
    if (req.method === 'PUT' && url.searchParams.has('uploadId') && !fs.existsSync(path.join(uploads, path.basename(url.searchParams.get('uploadId')!), 'key'))) {
      req.resume();
      return s3Error(res, 404, 'NoSuchUpload', 'The specified upload does not exist.');
    }
    // UploadPart: S3 numbers parts from 1 to 10,000 (s3rver takes any number).
    const partNumber = url.searchParams.get('partNumber');
    if (req.method === 'PUT' && partNumber !== null && !(/^\d+$/.test(partNumber) && Number(partNumber) >= 1 && Number(partNumber) <= 10_000)) {
      req.resume();
      return s3Error(res, 400, 'InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive.');
    }
    // CompleteMultipartUpload: every part but the last (by number) must have the minimum size. The sizes are those of
    // the parts this server accepted, not of s3rver's files, which a part's answer does not wait to see whole.
    if (req.method === 'POST' && url.searchParams.has('uploadId')) {
      const accepted = partBytes.get(url.searchParams.get('uploadId')!) ?? new Map<number, number>();
      const numbers = [...accepted.keys()].sort((a, b) => a - b);
      const small = numbers.slice(0, -1).find((n) => accepted.get(n)! < minPartBytes);
      if (small !== undefined) {
        req.resume();
        return s3Error(res, 400, 'EntityTooSmall', `Your proposed upload is smaller than the minimum allowed object size (part ${small}).`);
      }
    }
    if (req.method === 'GET' && key.join('/') === '' && url.searchParams.has('uploads')) {
      const open = (fs.existsSync(uploads) ? fs.readdirSync(uploads) : []).filter((id) => fs.existsSync(path.join(uploads, id, 'key')));
      const items = open.map((id) => `<Upload><Key>${escapeXml(fs.readFileSync(path.join(uploads, id, 'key'), 'utf8'))}</Key><UploadId>${id}</UploadId></Upload>`);
      res.writeHead(200, { 'Content-Type': 'application/xml' });
      res.end(`<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult><Bucket>${escapeXml(bucket!)}</Bucket><IsTruncated>false</IsTruncated>${items.join('')}</ListMultipartUploadsResult>`);
      return;
    }
    // A slower link: the request is taken in only once its bytes could have crossed it (they wait in the socket meanwhile).
    const bytes = req.method === 'PUT' ? Number(req.headers['x-amz-decoded-content-length'] ?? req.headers['content-length'] ?? 0) : 0;
    const uploadId = url.searchParams.get('uploadId');
    if (req.method === 'PUT' && uploadId !== null && partNumber !== null) {
      res.on('finish', () => {
        if (res.statusCode !== 200) return;
        const parts = partBytes.get(uploadId) ?? partBytes.set(uploadId, new Map()).get(uploadId)!;
        parts.set(Number(partNumber), bytes);
      });
    }
    if (uploadMbPerSecond > 0 && bytes > 0) setTimeout(() => handle(req, res), (bytes / (uploadMbPerSecond * 1024 * 1024)) * 1000);
    else handle(req, res);
  });
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`);
  });
  process.on('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
    log.end(() => process.exit(0));
  });
}

function s3Error(res: http.ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'Content-Type': 'application/xml' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`);
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
