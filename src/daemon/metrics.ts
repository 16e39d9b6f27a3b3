// Prometheus metrics (only with --metrics ADDRESS:PORT), served by node:http at /metrics.
//
// Names follow the Prometheus conventions: vlannet's own metrics start with `vlannet_`, counters
// end in `_total`, times are in seconds and say so (`_seconds`, `_timestamp_seconds`). The process
// and Node.js metrics are prom-client's defaults under their standard names, as every client
// library exports them (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
// `process_start_time_seconds`, `process_open_fds`, `nodejs_eventloop_lag_seconds`,
// `nodejs_heap_size_used_bytes` …), so that stock dashboards and alerts work unchanged.
//
// | name                                       | type      | labels       | meaning
// | ------------------------------------------ | --------- | ------------ | -------------------------------------------------
// | vlannet_reconciles_total                   | counter   | result       | Reconcile runs by result: converged (nothing to do),
// |                                            |           |              | applied (a new config revision), repaired (drift put
// |                                            |           |              | back), failed, no-config (no valid config yet).
// | vlannet_reconcile_duration_seconds         | histogram |              | Time of a run (observe, plan, execute, verify).
// | vlannet_actions_total                      | counter   | op, change   | Kernel actions executed, by operation (netns-add,
// |                                            |           |              | link-add, link-set, addr-add, route-add, their -dels)
// |                                            |           |              | and change (create, update, delete, replace).
// | vlannet_drift_repairs_total                | counter   |              | Runs that repaired drift (someone else changed the
// |                                            |           |              | kernel and vlannet put it back).
// | vlannet_converged                          | gauge     |              | 1 when the last run left the kernel equal to the
// |                                            |           |              | enforced config; 0 after a failed run, with no valid
// |                                            |           |              | config, and before the first run ends.
// | vlannet_reconcile_consecutive_failures     | gauge     |              | Runs that failed in a row (0 after a success).
// | vlannet_last_success_timestamp_seconds     | gauge     |              | Unix time of the last successful run (0: none yet).
// | vlannet_last_reconcile_timestamp_seconds   | gauge     |              | Unix time the last run ended, whatever its result.
// | vlannet_resync_interval_seconds            | gauge     |              | The full resync period (--resync): a run happens at
// |                                            |           |              | least this often.
// | vlannet_config_valid                       | gauge     |              | 1 when the config file as it is now is valid; 0 when
// |                                            |           |              | it is invalid or unreadable (the last good config
// |                                            |           |              | stays enforced, the file's changes are held back).
// | vlannet_managed_networks                   | gauge     |              | Networks in the enforced config.
// | vlannet_managed_endpoints                  | gauge     |              | Endpoints in the enforced config.
// | process_*, nodejs_*                        | (various) | (various)    | prom-client's default process and Node.js metrics.
//
// examples/prometheus/ has alert rules built on these and the same table for people.

import http from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { UsageError } from '../errors.js';
import type { DaemonObserver } from './loop.js';

export interface MetricsServer {
  readonly observer: DaemonObserver;
  readonly registry: Registry;
  /** The address actually bound (port 0 picks one). */
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

/** "127.0.0.1:9464", "[::1]:9464", ":9464" (all addresses). */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--metrics ${text}: expected ADDRESS:PORT, e.g. 127.0.0.1:9464 or [::1]:9464`);
  return { host: m[1] ?? (m[2] || '::'), port };
}

export function createMetrics(): { observer: DaemonObserver; registry: Registry } {
  const registry = new Registry();
  // No prefix: the standard process_* and nodejs_* names (a prefix ending in `process_` doubled it).
  collectDefaultMetrics({ register: registry });
  const reconciles = new Counter({
    name: 'vlannet_reconciles_total',
    help: 'Reconcile runs by result (converged, applied, repaired, failed, no-config).',
    labelNames: ['result'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'vlannet_reconcile_duration_seconds',
    help: 'Time of a reconcile run (observe, plan, execute, verify).',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const actions = new Counter({
    name: 'vlannet_actions_total',
    help: 'Kernel actions executed, by operation and change.',
    labelNames: ['op', 'change'],
    registers: [registry],
  });
  const repairs = new Counter({
    name: 'vlannet_drift_repairs_total',
    help: 'Runs that repaired drift: the kernel was changed by someone else and put back.',
    registers: [registry],
  });
  const converged = new Gauge({
    name: 'vlannet_converged',
    help: '1 when the last reconcile left the kernel equal to the enforced config, else 0 (failed, no valid config, or no run yet).',
    registers: [registry],
  });
  const failures = new Gauge({
    name: 'vlannet_reconcile_consecutive_failures',
    help: 'Reconcile runs that failed in a row (0 after a successful one).',
    registers: [registry],
  });
  const lastSuccess = new Gauge({
    name: 'vlannet_last_success_timestamp_seconds',
    help: 'Unix time of the last successful reconcile (0: none yet).',
    registers: [registry],
  });
  const lastRun = new Gauge({
    name: 'vlannet_last_reconcile_timestamp_seconds',
    help: 'Unix time the last reconcile ended, whatever its result (0: none yet).',
    registers: [registry],
  });
  const resync = new Gauge({
    name: 'vlannet_resync_interval_seconds',
    help: 'The full resync period (--resync): a reconcile runs at least this often.',
    registers: [registry],
  });
  const valid = new Gauge({
    name: 'vlannet_config_valid',
    help: '1 when the config file as it is now is valid, else 0 (the last good config stays enforced).',
    registers: [registry],
  });
  const networks = new Gauge({ name: 'vlannet_managed_networks', help: 'Networks in the config that is enforced.', registers: [registry] });
  const endpoints = new Gauge({
    name: 'vlannet_managed_endpoints',
    help: 'Endpoints in the config that is enforced.',
    registers: [registry],
  });
  for (const r of ['converged', 'applied', 'repaired', 'failed', 'no-config']) reconciles.inc({ result: r }, 0);
  const observer: DaemonObserver = {
    configRead(ok, good) {
      valid.set(ok ? 1 : 0);
      if (good) {
        endpoints.set(good.config.endpoints.length);
        networks.set(good.config.networks.length);
      }
    },
    actionExecuted(a) {
      actions.inc({ op: a.op.op, change: a.change });
    },
    runFinished(run, daemon) {
      const now = Date.now() / 1000;
      const ok = run.result === 'converged' || run.result === 'applied' || run.result === 'repaired';
      reconciles.inc({ result: run.result });
      duration.observe(run.durationMs / 1000);
      if (run.result === 'repaired') repairs.inc();
      converged.set(ok ? 1 : 0);
      failures.set(daemon.failures);
      lastRun.set(now);
      if (ok) lastSuccess.set(now);
      resync.set(daemon.timing.resyncMs / 1000);
    },
  };
  return { observer, registry };
}

export async function serveMetrics(listen: string): Promise<MetricsServer> {
  const where = parseListen(listen);
  const { observer, registry } = createMetrics();
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url !== '/metrics' && req.url !== '/')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('vlannet: metrics are at /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (e) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(e)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      const at = `${where.host.includes(':') ? `[${where.host}]` : where.host}:${where.port}`;
      if (e.code === 'EADDRINUSE')
        reject(new UsageError(`--metrics ${listen}: ${at} is already in use (EADDRINUSE); pick another port, or stop what listens there`));
      else if (e.code === 'EADDRNOTAVAIL')
        reject(new UsageError(`--metrics ${listen}: ${where.host} is not an address of this host (EADDRNOTAVAIL)`));
      else if (e.code === 'EACCES') reject(new UsageError(`--metrics ${listen}: not allowed to listen on ${at} (EACCES)`));
      else reject(e);
    });
    server.listen(where.port, where.host, () => resolve());
  });
  const bound = server.address();
  const address = typeof bound === 'object' && bound ? { host: bound.address, port: bound.port } : where;
  return { observer, registry, address, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
