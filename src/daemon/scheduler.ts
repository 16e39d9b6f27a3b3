// When the daemon runs. Level-based, controller-runtime style: events (the config file changed,
// the kernel changed, the resync timer, SIGHUP, a request) only schedule a run, debounced per
// trigger (a burst of writes or netlink notifications becomes one run). One function, `decide`,
// turns a run's outcome into the next deadlines: retry with exponential backoff after a failure,
// hold kernel events back while a link flaps, resync on a timer.

import type { RunRecord, Trigger } from '../control/protocol.js';
import type { Logger } from './log.js';

export interface Timing {
  /** A config change runs after this much quiet… */
  configDebounceMs: number;
  /** …or this long after the first event of a burst, whichever is first. */
  configMaxWaitMs: number;
  kernelDebounceMs: number;
  kernelMaxWaitMs: number;
  /** Full resync this long after the last run. */
  resyncMs: number;
  /** Retry after a failed run: base × 2^(failures-1), at most max. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** While runs keep failing, kernel events wait at most this long after the last run. */
  failingKernelHoldMs: number;
  /** Two drift repairs closer than this count as a flap… */
  flapWindowMs: number;
  /** …and from the third on, kernel events are held back base × 2^(n-3), at most max. */
  flapHoldBaseMs: number;
  flapHoldMaxMs: number;
  /** A file that changed while it was read is read again after this long. */
  unsettledRetryMs: number;
  /**
   * A file written in place (the inode read last time) is used only once it has been still this
   * long, so that a write in pieces is applied once, whole. A new inode (a rename-over, a symlink
   * flip) is used at once: it was complete when it took the name.
   */
  settleMs: number;
}

export const DEFAULT_TIMING: Timing = {
  configDebounceMs: 100,
  configMaxWaitMs: 1000,
  kernelDebounceMs: 3,
  kernelMaxWaitMs: 30,
  resyncMs: 300_000,
  retryBaseMs: 500,
  retryMaxMs: 60_000,
  failingKernelHoldMs: 1000,
  flapWindowMs: 2000,
  flapHoldBaseMs: 250,
  flapHoldMaxMs: 30_000,
  unsettledRetryMs: 250,
  settleMs: 1000,
};

interface Pending {
  first: number;
  due: number;
}

export interface SchedulerOptions {
  timing: Timing;
  log: Logger;
  now(): number;
  /** Whether a run is in progress: nothing is armed then (the run arms when it ends). */
  busy(): boolean;
  /** The earliest pending trigger is due: start a run (it calls takeDue). */
  fire(): void;
}

export class Scheduler {
  /** Runs that failed in a row. */
  failures = 0;
  /** Runs that repaired drift. */
  driftRepairs = 0;
  private readonly pending = new Map<Trigger, Pending>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private kernelNotBefore = 0;
  /** Recent repairs per object, for flap detection. */
  private readonly flaps = new Map<string, { streak: number; at: number }>();

  constructor(private readonly opts: SchedulerOptions) {}

  /** Something happened: run after the trigger's debounce. Safe to call at any rate. */
  schedule(trigger: Trigger): void {
    if (this.stopped) return;
    const t = this.opts.timing;
    const now = this.opts.now();
    const [debounce, maxWait] =
      trigger === 'config'
        ? [t.configDebounceMs, t.configMaxWaitMs]
        : trigger === 'kernel' || trigger === 'overflow'
          ? [t.kernelDebounceMs, t.kernelMaxWaitMs]
          : [0, 0];
    const first = this.pending.get(trigger)?.first ?? now;
    let due = Math.min(now + debounce, first + maxWait);
    if (trigger === 'kernel' || trigger === 'overflow') due = Math.max(due, this.kernelNotBefore);
    this.pending.set(trigger, { first, due });
    this.arm();
  }

  /** Run `trigger` in `ms` from now, whatever its debounce (a config file still being written). */
  after(trigger: Trigger, ms: number): void {
    if (this.stopped) return;
    this.pending.set(trigger, { first: this.opts.now(), due: this.opts.now() + ms });
    this.arm();
  }

  /** The triggers due now, taken off the pending list; the rest stay for the next run. */
  takeDue(): Trigger[] {
    const now = this.opts.now();
    const due = [...this.pending].filter(([, p]) => p.due <= now).map(([k]) => k);
    for (const k of due) this.pending.delete(k);
    return due;
  }

  /** Set the timer for the earliest pending trigger (a no-op during a run, or once stopped). */
  arm(): void {
    if (this.opts.busy() || this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.size === 0) return;
    const due = Math.min(...[...this.pending.values()].map((p) => p.due));
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.opts.fire();
      },
      Math.max(0, due - this.opts.now()),
    );
    // The resync timer alone must not keep a finished process alive.
    if ([...this.pending].every(([k]) => k === 'resync')) this.timer.unref();
  }

  /** Nothing is scheduled any more. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** In how many ms the retry after a failure is due, or null. */
  retryInMs(): number | null {
    const retry = this.pending.get('retry');
    return retry ? Math.round(retry.due - this.opts.now()) : null;
  }

  /** The one place that decides what happens next from a run's outcome. */
  decide(run: RunRecord): void {
    const t = this.opts.timing;
    const end = this.opts.now();
    this.kernelNotBefore = 0;
    if (run.result === 'failed') {
      this.failures++;
      const backoff = Math.min(t.retryMaxMs, t.retryBaseMs * 2 ** (this.failures - 1));
      this.pending.set('retry', { first: end, due: end + backoff });
      // Our own rollback makes kernel events too: they must not turn a failure into a spin.
      this.kernelNotBefore = end + Math.min(backoff, t.failingKernelHoldMs);
    } else {
      this.failures = 0;
      this.pending.delete('retry');
    }
    if (run.result === 'repaired') {
      this.driftRepairs++;
      // A flap is the same object repaired again and again, not many objects repaired once each
      // (an operator deleting a few endpoints by hand is not a flap).
      let worst: { object: string; streak: number } | null = null;
      for (const object of run.objects) {
        const prev = this.flaps.get(object);
        const streak = prev && end - prev.at < t.flapWindowMs ? prev.streak + 1 : 1;
        this.flaps.set(object, { streak, at: end });
        if (!worst || streak > worst.streak) worst = { object, streak };
      }
      if (worst && worst.streak >= 3) {
        const hold = Math.min(t.flapHoldMaxMs, t.flapHoldBaseMs * 2 ** (worst.streak - 3));
        this.kernelNotBefore = Math.max(this.kernelNotBefore, end + hold);
        this.opts.log.warning(
          `${worst.object} repaired ${worst.streak} times in a row within ${t.flapWindowMs} ms of each other (something keeps changing it): kernel events wait ${hold} ms`,
        );
      }
    }
    for (const [object, f] of this.flaps) if (end - f.at >= t.flapWindowMs) this.flaps.delete(object);
    for (const k of ['kernel', 'overflow'] as const) {
      const p = this.pending.get(k);
      if (p) p.due = Math.max(p.due, this.kernelNotBefore);
    }
    this.pending.set('resync', { first: end, due: end + t.resyncMs });
  }
}
