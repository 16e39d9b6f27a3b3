// What the daemon answers on its control socket for `vlannet plan` and `vlannet apply`: a plan of
// the file it enforces as it is now, against the kernel as the daemon reads it; an apply that is
// the daemon's next run, answered with what that run did. A request about another file is not the
// daemon's to answer (the command then runs on its own).

import fs from 'node:fs';
import path from 'node:path';
import type { ReconcileResult } from '../apply/reconcile.js';
import type { ServedAnswer, Trigger } from '../control/protocol.js';
import type { Diagnostic } from '../model/types.js';
import type { ConfigVerdict } from './tracked-config.js';

/** How a run ended, for whoever asked for it: what it did, or why not. */
export type RunOutcome = { result: ReconcileResult; error: null } | { result: null; error: string };

/** What the requests need of the daemon. */
export interface RequestsHost {
  readonly file: string;
  stopping(): boolean;
  /** Resolves once no run is in progress. */
  idle(): Promise<void>;
  readSettledConfig(): Promise<ConfigVerdict>;
  /** Observe and plan against the last good config, changing nothing. */
  dryRun(): Promise<ReconcileResult>;
  /** The warnings of the file as last read. */
  warnings(): Diagnostic[];
  schedule(trigger: Trigger): void;
}

export class Requests {
  /** `vlannet apply` requests waiting for the next run. */
  private waiters: Array<(outcome: RunOutcome) => void> = [];
  /** `vlannet apply --force` asked: the next run may remove endpoints from namespaces in use. */
  private forceNext = false;

  constructor(private readonly host: RequestsHost) {}

  /** `vlannet plan` served: the file as it is now, planned. Waits for a run in progress to end. */
  async plan(file: string): Promise<ServedAnswer> {
    const declined = this.declines(file);
    if (declined) return declined;
    await this.host.idle();
    const verdict = await this.host.readSettledConfig();
    if (!verdict.valid) return { outcome: 'invalid', diagnostics: verdict.diagnostics, pid: process.pid };
    const { plan, timings } = await this.host.dryRun();
    return { outcome: 'done', result: { plan, executed: [], timings }, warnings: warningsOf(verdict.diagnostics), pid: process.pid };
  }

  /**
   * `vlannet apply` served: a run now (after the one in progress), answered with what it did. A
   * file that is not valid is refused with its diagnostics, as `vlannet apply` alone would.
   */
  async apply(file: string, force = false): Promise<ServedAnswer> {
    const declined = this.declines(file);
    if (declined) return declined;
    if (this.host.stopping()) return { outcome: 'failed', error: 'the daemon is stopping; nothing was changed', pid: process.pid };
    const verdict = await this.host.readSettledConfig();
    if (!verdict.valid) return { outcome: 'invalid', diagnostics: verdict.diagnostics, pid: process.pid };
    const outcome = await new Promise<RunOutcome>((resolve) => {
      this.waiters.push(resolve);
      if (force) this.forceNext = true;
      this.host.schedule('cli');
    });
    if (outcome.error !== null) return { outcome: 'failed', error: outcome.error, pid: process.pid };
    return { outcome: 'done', result: outcome.result, warnings: this.host.warnings(), pid: process.pid };
  }

  /** A run for the requests waiting now begins: who to answer, and whether they asked for --force. */
  take(): { answer(outcome: RunOutcome): void; force: boolean } {
    const waiters = this.waiters.splice(0);
    const force = this.forceNext;
    this.forceNext = false;
    return {
      answer: (outcome) => {
        for (const w of waiters) w(outcome);
      },
      force,
    };
  }

  /** The daemon stops: every request still waiting is answered that nothing was done for it. */
  refuseAll(): void {
    for (const w of this.waiters.splice(0))
      w({ result: null, error: 'the daemon stopped before running this apply; nothing was changed by it' });
  }

  private declines(file: string): ServedAnswer | null {
    const real = (f: string) => {
      try {
        return fs.realpathSync(f);
      } catch {
        return path.resolve(f);
      }
    };
    return real(file) === real(this.host.file) ? null : { outcome: 'declined', enforced: this.host.file, pid: process.pid };
  }
}

function warningsOf(diagnostics: Diagnostic[]): Diagnostic[] {
  return diagnostics.filter((d) => d.severity === 'warning');
}
