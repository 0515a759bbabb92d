/** One live status line on a terminal (stderr); plain lines when not a terminal; nothing when quiet. */
export class Progress {
  private readonly out: NodeJS.WritableStream & { readonly isTTY?: boolean };
  private readonly tty: boolean;
  private last = '';
  private lastAt = 0;
  private readonly started = Date.now();
  private readonly quiet: boolean;
  constructor(quiet: boolean, out: NodeJS.WritableStream & { readonly isTTY?: boolean } = process.stderr) {
    this.quiet = quiet;
    this.out = out;
    this.tty = out.isTTY === true;
  }

  /**
   * A status line with a bar when the share done is known (0 to 1): on a
   * terminal `[#########.........]  45 % · text · 3.2 s, about 4 s left`.
   */
  show(text: string, done?: number): void {
    if (this.quiet) return;
    const elapsed = (Date.now() - this.started) / 1000;
    const share = done === undefined || !Number.isFinite(done) ? undefined : Math.min(1, Math.max(0, done));
    const line =
      share === undefined
        ? `${text} · ${elapsed.toFixed(1)} s`
        : `${bar(share)} ${String(Math.floor(share * 100)).padStart(3)} % · ${text} · ${elapsed.toFixed(1)} s${share > 0.02 && share < 1 ? `, about ${Math.ceil((elapsed * (1 - share)) / share)} s left` : ''}`;
    if (this.tty) {
      this.out.write(`\r\x1b[K${line}`);
    } else if (text !== this.last || Date.now() - this.lastAt > 5000) {
      this.out.write(`${line}\n`);
      this.lastAt = Date.now();
    }
    this.last = text;
  }

  done(text: string): void {
    if (this.quiet) return;
    this.out.write(`${this.tty ? '\r\x1b[K' : ''}${text}\n`);
  }
}

const BAR_WIDTH = 24;

/** `[#####...........]` for a share done from 0 to 1. */
export function bar(share: number): string {
  const filled = Math.round(share * BAR_WIDTH);
  return `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]`;
}
