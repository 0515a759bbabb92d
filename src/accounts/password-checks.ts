/**
 * A bound on the password checks one process runs at once. scrypt runs on
 * Node's small shared thread pool (four threads by default), the one that
 * also reads files: left unbounded, a flood of wrong passwords takes every
 * thread and a file download waits behind all of them. With the bound, the
 * other threads stay free for files, and checks beyond it wait in a queue
 * of their own, which is itself bounded: past it a check is refused at once
 * rather than left to wait for seconds. Credentials verified before (whose
 * remembered verification has expired) go to the front: a client that polls
 * with them waits for one check at most, however long the queue.
 */
import { ApiError } from '../errors.ts';

/** Checks that may wait, per check allowed to run. */
const WAITING_PER_SLOT = 32;

export class PasswordChecks {
  private readonly concurrency: number;
  private readonly maxWaiting: number;
  private running = 0;
  private readonly waiting: { turn: () => void; skip: () => void; gone: () => boolean }[] = [];

  constructor(concurrency: number) {
    this.concurrency = concurrency;
    this.maxWaiting = concurrency * WAITING_PER_SLOT;
  }

  /**
   * Runs `check` when its turn comes (with whatever must not interleave with
   * it, such as reading and counting failed logins); a 503 when too many
   * wait already. A check whose client has `gone` by its turn is skipped.
   */
  async run<T>(check: () => Promise<T>, opts: { gone?: () => boolean; verifiedBefore?: boolean } = {}): Promise<T> {
    if (this.running < this.concurrency) {
      this.running++;
    } else {
      if (!opts.verifiedBefore && this.waiting.length >= this.maxWaiting) {
        throw new ApiError(
          'LOGINS_OVERLOADED',
          'too many logins are waiting for their password check; retry in a moment (a client that keeps its credentials is checked once and then remembered)',
          { 'Retry-After': '1' },
        );
      }
      // The slot is handed over by the check that frees it: `running` does not change.
      await new Promise<void>((turn, skip) => {
        const waiter = { turn, skip: () => skip(new ApiError('UNAUTHENTICATED', 'the connection closed before its password was checked')), gone: opts.gone ?? (() => false) };
        if (opts.verifiedBefore) this.waiting.unshift(waiter);
        else this.waiting.push(waiter);
      });
    }
    try {
      return await check();
    } finally {
      this.handOver();
    }
  }

  private handOver(): void {
    for (let next = this.waiting.shift(); next; next = this.waiting.shift()) {
      if (!next.gone()) {
        next.turn();
        return;
      }
      next.skip();
    }
    this.running--;
  }
}
