// What the daemon knows of its config file: the file as last read, whether it is valid, and the
// last good config, which stays enforced while the file is invalid or unreadable. A file written
// in place is used only once it has been still for a while (settleMs), so that a write in pieces
// is applied once, whole; a new inode (a rename-over, a symlink flip) is used at once. A file that
// was invalid or unreadable and is valid again says so once, with since when it was not.

import type { Config, Diagnostic } from '../model/types.js';
import { formatDiagnostic } from '../errors.js';
import type { ConfigState, GitRevision } from '../control/protocol.js';
import { readConfigSource, shortHash, type ConfigSource } from './config-source.js';
import { gitRevisionOf } from './git.js';
import type { Logger } from './log.js';

export interface GoodConfig {
  config: Config;
  hash: string;
  loadedAt: string;
  git: GitRevision | null;
}

/**
 * Whether the file as it is now is valid, and what loading it said; `settlesInMs`: it is being
 * written, and may be read again after that long.
 */
export type ConfigVerdict = { valid: boolean; diagnostics: Diagnostic[]; settlesInMs?: number };

export interface TrackedConfigOptions {
  file: string;
  loadConfig(text: string, file: string): { config: Config | null; diagnostics: Diagnostic[] };
  log: Logger;
  /** How long a file written in place must be still; how soon a file that moved while read is read again. */
  settleMs: number;
  unsettledRetryMs: number;
  /** Told after every read that changed what is known (metrics). */
  onRead?(valid: boolean, good: GoodConfig | null): void;
  /** The file is being written: read it again in `ms` (the daemon schedules a run). */
  onUnsettled?(ms: number): void;
}

export class TrackedConfig {
  state: ConfigState;
  lastGood: GoodConfig | null = null;
  private lastReadHash: string | null = null;
  /** The identity (real path and inode) of the file as last read: another one is a replacement. */
  private lastIdentity: string | null = null;
  /** Everything loadConfig said about the file with lastReadHash. */
  private lastDiagnostics: Diagnostic[] = [];
  /**
   * When the file was first found invalid or unreadable while a good config was enforced (ISO
   * time), or null: the next valid read says once that it is valid again.
   */
  private invalidSince: string | null = null;

  constructor(private readonly opts: TrackedConfigOptions) {
    this.state = { file: opts.file, realPath: null, valid: false, currentHash: null, errors: [], warnings: [], diagnostics: [] };
  }

  get file(): string {
    return this.opts.file;
  }

  /** The warnings of the file as last read. */
  get warnings(): Diagnostic[] {
    return this.lastDiagnostics.filter((d) => d.severity === 'warning');
  }

  /** Parse the file again at the next read even if its bytes are the same (SIGHUP: its errors are logged again). */
  forget(): void {
    this.lastReadHash = null;
  }

  /**
   * Re-read the file; keep the last good config unless the file is readable, settled and valid.
   * Says whether the file as it is now is valid, and what loading it said.
   */
  read(): ConfigVerdict {
    const { file, log } = this.opts;
    const src = readConfigSource(file);
    if (!src.ok) {
      const changed = this.state.valid || this.state.errors[0] !== src.message;
      const diagnostics: Diagnostic[] = [{ severity: 'error', at: src.file, path: '', message: src.message }];
      this.state = { ...this.state, valid: false, currentHash: null, errors: [src.message], warnings: [], diagnostics };
      this.lastReadHash = null;
      this.markInvalid();
      if (changed) {
        log.error(src.message);
        this.logKeeping();
        this.opts.onRead?.(false, this.lastGood);
      }
      return { valid: false, diagnostics: this.state.diagnostics! };
    }
    const wait = this.settling(src);
    if (wait !== null) {
      log.debug(`${src.realPath} is being written: reading it again in ${Math.round(wait)} ms`);
      this.opts.onUnsettled?.(wait);
      return {
        valid: false,
        settlesInMs: wait,
        diagnostics: [
          {
            severity: 'error',
            at: src.file,
            path: '',
            message: `the file is being written: it is read again once it has been still for ${this.opts.settleMs} ms`,
          },
        ],
      };
    }
    this.lastIdentity = src.identity;
    if (src.hash === this.lastReadHash) {
      // Same bytes as last time: same verdict. Only the git revision may have moved.
      const same = this.state.valid && this.lastGood?.hash === src.hash;
      if (same) this.lastGood!.git = gitRevisionOf(src.realPath);
      return { valid: same, diagnostics: this.lastDiagnostics };
    }
    this.lastReadHash = src.hash;
    const { config, diagnostics } = this.opts.loadConfig(src.text, file);
    this.lastDiagnostics = diagnostics;
    const errors = diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);
    const warnings = diagnostics.filter((d) => d.severity === 'warning').map(formatDiagnostic);
    for (const w of warnings) log.warning(w);
    if (config && errors.length === 0) {
      this.state = { file, realPath: src.realPath, valid: true, currentHash: src.hash, errors: [], warnings, diagnostics };
      const git = gitRevisionOf(src.realPath);
      const changed = this.lastGood?.hash !== src.hash;
      this.lastGood = { config, hash: src.hash, loadedAt: new Date().toISOString(), git };
      if (this.invalidSince !== null) {
        log.info(`config valid again: ${file} revision ${shortHash(src.hash)} (was invalid since ${this.invalidSince})`);
        this.invalidSince = null;
      }
      if (changed) {
        log.info(
          `config ${file} revision ${shortHash(src.hash)}${git ? ` (git ${git.commit.slice(0, 12)}${git.branch ? ` on ${git.branch}` : ''})` : ''}: ${config.networks.length} networks, ${config.endpoints.length} endpoints`,
        );
      }
      this.opts.onRead?.(true, this.lastGood);
      return { valid: true, diagnostics };
    }
    const reported = errors.length > 0 ? errors : [`${file}: error: the file was rejected without a message`];
    this.state = { file, realPath: src.realPath, valid: false, currentHash: src.hash, errors: reported, warnings, diagnostics };
    this.markInvalid();
    for (const e of reported) log.error(e);
    this.logKeeping();
    this.opts.onRead?.(false, this.lastGood);
    return { valid: false, diagnostics };
  }

  /** read(), waiting (a few times at most) for a file being written to be still. */
  async readSettled(stopping: () => boolean): Promise<ConfigVerdict> {
    let verdict = this.read();
    for (let i = 0; i < 5 && verdict.settlesInMs !== undefined && !stopping(); i++) {
      await new Promise((resolve) => setTimeout(resolve, verdict.settlesInMs! + 5));
      verdict = this.read();
    }
    return verdict;
  }

  /**
   * How long to wait before the file as read may be used, or null: now. A file that moved while it
   * was read is read again shortly; one written in place, once it has been still for settleMs.
   */
  private settling(src: Extract<ConfigSource, { ok: true }>): number | null {
    if (src.moving) return this.opts.unsettledRetryMs;
    if (src.identity !== this.lastIdentity || src.hash === this.lastReadHash) return null;
    const still = Date.now() - src.mtimeMs; // file times are the wall clock's
    return still >= this.opts.settleMs ? null : this.opts.settleMs - still;
  }

  /** The file is invalid or unreadable now: remember since when, if a good config is held. */
  private markInvalid(): void {
    if (this.lastGood && this.invalidSince === null) this.invalidSince = new Date().toISOString();
  }

  private logKeeping(): void {
    const { file, log } = this.opts;
    if (this.lastGood)
      log.warning(`config ${file} is not valid: nothing changes because of it; still enforcing revision ${shortHash(this.lastGood.hash)}`);
    else log.warning(`config ${file} is not valid and there is no good config yet: changing nothing`);
  }
}
