/**
 * HTTP/1.1 spoken by hand over a socket, for what a client library hides:
 * when the server answers (before the body was sent?), whether it closes
 * the connection, and clients that send slowly or from another address.
 */
import http from 'node:http';
import net from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export class RawConnection {
  readonly socket: net.Socket;
  /** Everything the server sent, as Latin-1. */
  received = '';
  closed = false;
  private readonly waiters = new Set<() => void>();

  constructor(port: number, localAddress?: string) {
    this.socket = net.connect({ host: '127.0.0.1', port, ...(localAddress ? { localAddress } : {}) });
    this.socket.on('data', (d: Buffer) => {
      this.received += d.toString('latin1');
      this.wake();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    // A reset after the server's answer is one of the ways it closes.
    this.socket.on('error', () => undefined);
  }

  connected(): Promise<void> {
    return this.socket.connecting ? new Promise((r) => this.socket.once('connect', () => r())) : Promise.resolve();
  }

  write(text: string | Buffer): void {
    if (this.socket.writable) this.socket.write(text);
  }

  /** Resolves once `condition` holds, checked on every byte received and on close; fails after `ms`. */
  async until(condition: () => boolean, ms: number, what: string): Promise<void> {
    const deadline = setTimeout(() => this.wake(), ms);
    const started = Date.now();
    try {
      while (!condition()) {
        if (Date.now() - started >= ms) throw new Error(`${what}: not within ${ms} ms (received ${JSON.stringify(this.received.slice(0, 300))}, closed: ${this.closed})`);
        await new Promise<void>((r) => this.waiters.add(r));
      }
    } finally {
      clearTimeout(deadline);
    }
  }

  /** The first complete response received (status line, headers, Content-Length body). */
  response(): RawResponse | undefined {
    const end = this.received.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    const [statusLine, ...lines] = this.received.slice(0, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    const body = this.received.slice(end + 4, end + 4 + length);
    if (Buffer.byteLength(body, 'latin1') < length) return undefined;
    return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine ?? '')?.[1]), headers, body: Buffer.from(body, 'latin1').toString('utf8') };
  }

  /** Waits for a complete response. */
  async nextResponse(ms: number, what: string): Promise<RawResponse> {
    await this.until(() => this.response() !== undefined || this.closed, ms, what);
    const r = this.response();
    if (!r) throw new Error(`${what}: the connection closed without a response (received ${JSON.stringify(this.received.slice(0, 300))})`);
    return r;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const w of this.waiters) w();
    this.waiters.clear();
  }
}

export interface TimedResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  bytes: number;
  /** The first 4 KB or so. */
  body: string;
  ms: number;
}

/** A GET through node:http (from `agent`'s local address, when it has one): status, headers, body and milliseconds taken. */
export function timedGet(url: string, headers: Record<string, string>, agent: http.Agent, timeoutMs: number): Promise<TimedResponse> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get(url, { agent, headers, timeout: timeoutMs }, (res) => {
      let bytes = 0;
      let body = '';
      res.on('data', (d: Buffer) => {
        bytes += d.length;
        if (body.length < 4096) body += d.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes, body, ms: performance.now() - t0 }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} took over ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}
