/** One live status line on a terminal (stderr); plain lines when not a terminal; nothing when quiet. */
export class Progress {
  private readonly tty = process.stderr.isTTY;
  private last = '';
  private lastAt = 0;
  private readonly started = Date.now();
  private readonly quiet: boolean;
  constructor(quiet: boolean) {
    this.quiet = quiet;
  }

  show(text: string, force = false): void {
    if (this.quiet) return;
    const line = `${text} · ${((Date.now() - this.started) / 1000).toFixed(1)} s`;
    if (this.tty) {
      process.stderr.write(`\r\x1b[K${line}`);
    } else if (force || text !== this.last || Date.now() - this.lastAt > 5000) {
      process.stderr.write(`${line}\n`);
      this.lastAt = Date.now();
    }
    this.last = text;
  }

  done(text: string): void {
    if (this.quiet) return;
    process.stderr.write(`${this.tty ? '\r\x1b[K' : ''}${text}\n`);
  }
}
