// `vlannet daemon` (`vlannet status` is status.ts). The daemon wires the loop (daemon/loop.ts) to its event
// sources — the config watcher, rtnetlink notifications, signals, the resync timer — and to its
// outputs: the journal, sd_notify, the status socket and, with --metrics, Prometheus.

import v8 from 'node:v8';
import vm from 'node:vm';
import { namespacesOf } from '../apply/reconcile.js';
import type { Config } from '../model/types.js';
import { openKernel } from '../kernel/open.js';
import { DEFAULT_CONFIG, type DaemonOptions } from './program.js';
import { loadConfig } from '../config/load.js';
import { hostIdentity } from './identity.js';
import { watchKernel, type KernelWatch } from '../kernel/events.js';
import { acquireLockWaiting, runDir, type Lock } from '../kernel/flock.js';
import { watchConfig } from '../daemon/config-watch.js';
import { createLogger, type Logger } from '../daemon/log.js';
import { Daemon, type DaemonObserver } from '../daemon/loop.js';
import { mallocTuning } from '../daemon/malloc.js';
import { createNotifier } from '../daemon/sdnotify.js';
import { serveDaemon } from '../daemon/status.js';
import { selfCommand } from '../control/trial.js';

/**
 * The daemon lives for months with a small live heap (~17 MB at 1000 endpoints, half of it code and
 * strings) but makes a few MB of short-lived garbage per run. V8's defaults suit a short burst of
 * work: the young generation grows to 3 × 16 MB, and the old one is not collected at all until it
 * reaches a start-up limit far above what is live; at 1000 endpoints that took the daemon to ~150 MB
 * resident. So: keep the young generation at its starting size, let the old one grow by 40 %
 * between collections, and collect in full after each new config revision is read (parsing a
 * 1000-endpoint file leaves megabytes of syntax tree behind) and after the first reconcile, which
 * also sets the limits from what is really live. At 15 % the run right after a config change
 * (what the young generation promotes during it) started a full marking on its own, ~15 ms of it;
 * 40 % costs no measurable peak. More, shorter collections for a footprint near what is live. V8
 * reads these flags whenever it sizes the heap, so setting them at start-up takes effect; the
 * collector is exposed for those calls.
 *
 * Outside V8's heap, glibc's malloc serves V8's compilers and collectors, which run on their own
 * threads: by default each thread may get an arena of its own, and memory freed there stays
 * resident. Two arenas are plenty for a daemon that works in bursts; and after each full collection
 * malloc_trim hands what is free back to the kernel (~15 MB less peak at 1000 endpoints).
 *
 * After every run, too: while the daemon repairs drift no config is read, but each run leaves
 * the garbage of a whole desired state behind, and the optimising compiler frees megabytes of its
 * scratch memory in bursts. So the end of a run collects in full once the heap has grown by
 * COLLECT_AFTER_GROWTH since the last full collection (~15 ms, after the run, not in it), and trims
 * malloc otherwise (~0.3 ms): ~5 MB less peak at 1000 endpoints, no measurable cost to repairs.
 */
function tuneHeapForDaemon(): { collectGarbage(): void; afterRun(): void } {
  v8.setFlagsFromString('--semi-space-growth-factor=1');
  v8.setFlagsFromString('--heap-growing-percent=40');
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const malloc = mallocTuning();
  malloc.limitArenas(2);
  let collectedAt = 0;
  const collectGarbage = () => {
    gc();
    malloc.trim();
    collectedAt = v8.getHeapStatistics().used_heap_size;
  };
  const afterRun = () => {
    if (v8.getHeapStatistics().used_heap_size - collectedAt > COLLECT_AFTER_GROWTH) collectGarbage();
    else malloc.trim();
  };
  return { collectGarbage, afterRun };
}

/** See tuneHeapForDaemon. */
const COLLECT_AFTER_GROWTH = 6 << 20;

/**
 * The lock, once `vlannet apply` or `destroy` (say, at boot) has let go of it; a second daemon is
 * refused at once (LockBusyError, exit 1).
 */
async function lockForDaemon(log: Logger): Promise<Lock> {
  let waiting = false;
  return acquireLockWaiting(
    'daemon',
    (busy) => {
      if (/: daemon$/.test(busy.holder)) return false;
      if (!waiting) log.info(`waiting for ${busy.holder} to let go of ${busy.lockPath}`);
      waiting = true;
      return true;
    },
    250,
  );
}

/**
 * The observer that keeps the kernel watcher on the namespaces the enforced config uses: all of
 * them when that list changed, else those a run created, deleted or replaced (their objects are
 * netns.NAME); and gives memory back after runs.
 */
function followNamespaces(events: KernelWatch, log: Logger, heap: ReturnType<typeof tuneHeapForDaemon>): DaemonObserver {
  let watchedNs = '';
  let watchedConfig: Config | null = null;
  return {
    configRead(valid) {
      if (valid) heap.collectGarbage();
    },
    runFinished(run, d) {
      setImmediate(heap.afterRun);
      const config = d.lastGood?.config ?? null;
      if (config === watchedConfig && run.executed === 0) return;
      const ns = namespacesOf(config);
      const key = ns.join('\0');
      const acted = run.objects.filter((o) => o.startsWith('netns.')).map((o) => o.slice('netns.'.length));
      try {
        if (key !== watchedNs) events.setNamespaces(ns);
        else if (acted.length > 0) events.recheck(acted);
        watchedNs = key;
        watchedConfig = config;
      } catch (e) {
        watchedNs = ''; // try again after the next run; the resync timer covers the gap
        watchedConfig = null;
        const names = ns.length > 5 ? `${ns.slice(0, 5).join(', ')} … (${ns.length})` : ns.join(', ');
        log.warning(`cannot watch the namespaces ${names}: ${e instanceof Error ? e.message : String(e)}`);
      }
    },
  };
}

export async function daemonCommand(o: DaemonOptions): Promise<number> {
  const heap = tuneHeapForDaemon();
  const { resync: resyncSeconds, settle: settleSeconds, ...flags } = o;
  const file = o.file ?? DEFAULT_CONFIG;
  const log = createLogger({ debug: flags.debug === true });

  const lock = await lockForDaemon(log);
  const notifier = createNotifier();
  const kernel = await openKernel(true);
  // prom-client is loaded only when metrics are asked for: a few MB the daemon otherwise never needs.
  const metrics = flags.metrics ? await (await import('../daemon/metrics.js')).serveMetrics(flags.metrics) : null;
  if (metrics)
    log.info(
      `metrics at http://${metrics.address.host.includes(':') ? `[${metrics.address.host}]` : metrics.address.host}:${metrics.address.port}/metrics`,
    );

  let daemon: Daemon | null = null;
  const events = watchKernel([], (e) => daemon?.schedule(e.kind === 'overflow' ? 'overflow' : 'kernel'));
  daemon = new Daemon({
    file,
    kernel,
    log,
    loadConfig: (text, configFile) => loadConfig(text, configFile, hostIdentity(o)),
    notifier,
    force: flags.force === true,
    runDir: runDir(),
    trialCommand: selfCommand(),
    timing: { resyncMs: resyncSeconds * 1000, settleMs: settleSeconds * 1000 },
    observers: [followNamespaces(events, log, heap), ...(metrics ? [metrics.observer] : [])],
  });

  let stopRequested: (signal: string) => void = () => {};
  const stopped = new Promise<string>((resolve) => {
    stopRequested = resolve;
  });
  const onStop = (signal: NodeJS.Signals) => stopRequested(signal);
  const onHup = () => daemon?.reload();
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', onHup);

  const status = await serveDaemon(runDir(), daemon);
  const config = watchConfig(
    file,
    (why) => {
      log.debug(`config event: ${why}`);
      daemon?.schedule('config');
    },
    (e) => log.warning(`config watcher: ${e.message}`),
  );
  log.info(`vlannet daemon ${process.pid} starting: config ${file}, resync every ${resyncSeconds} s, status on ${status.path}`);

  const shutdown = async (code: number): Promise<number> => {
    await daemon!.stop();
    if (watchdog) clearInterval(watchdog);
    await config.close();
    events.close();
    await status.close();
    await metrics?.close();
    kernel.close();
    lock.release();
    notifier.close();
    process.off('SIGTERM', onStop);
    process.off('SIGINT', onStop);
    process.off('SIGHUP', onHup);
    return code;
  };

  let watchdog: NodeJS.Timeout | null = null;
  try {
    const first = await Promise.race([daemon.start(), stopped.then(() => null)]);
    if (first === null || daemon.stopping) {
      log.info('stopped during the first reconcile; the networks stay in place');
      return await shutdown(0);
    }
    if (first.result === 'no-config') {
      log.error(`no valid config in ${file}: refusing to start (nothing was changed)`);
      return await shutdown(1);
    }
    if (notifier.watchdogMs) {
      watchdog = setInterval(() => notifier.send({ WATCHDOG: '1' }), notifier.watchdogMs);
      notifier.send({ WATCHDOG: '1' });
    }
    heap.collectGarbage();
    log.info(`ready: ${daemon.summary()}`);
    const signal = await stopped;
    log.info(`${signal}: stopping; the networks stay in place (\`vlannet destroy\` removes them)`);
    const code = await shutdown(0);
    log.info('stopped');
    return code;
  } catch (error) {
    // A bug: close everything so the process ends (systemd restarts it) instead of hanging.
    await shutdown(70).catch(() => {});
    throw error;
  }
}
