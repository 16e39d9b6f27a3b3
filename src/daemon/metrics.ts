// Prometheus metrics (only with --metrics ADDRESS:PORT): reconciles and their outcome, actions
// executed by kind, drift repairs, whether the config is valid, the time of the last successful
// reconcile and the endpoints under management. Served by node:http at /metrics.

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
  collectDefaultMetrics({ register: registry, prefix: 'vlannet_process_' });
  const reconciles = new Counter({
    name: 'vlannet_reconciles_total',
    help: 'Reconcile runs by result (converged, applied, repaired, failed, no-config).',
    labelNames: ['result'],
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
  const valid = new Gauge({
    name: 'vlannet_config_valid',
    help: '1 when the config file as it is now is valid, else 0 (the last good config stays enforced).',
    registers: [registry],
  });
  const lastSuccess = new Gauge({
    name: 'vlannet_last_success_timestamp_seconds',
    help: 'Unix time of the last successful reconcile.',
    registers: [registry],
  });
  const endpoints = new Gauge({
    name: 'vlannet_managed_endpoints',
    help: 'Endpoints in the config that is enforced.',
    registers: [registry],
  });
  const networks = new Gauge({ name: 'vlannet_managed_networks', help: 'Networks in the config that is enforced.', registers: [registry] });
  const duration = new Histogram({
    name: 'vlannet_reconcile_duration_seconds',
    help: 'Time of a reconcile run (observe, plan, execute, verify).',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
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
    runFinished(run) {
      reconciles.inc({ result: run.result });
      duration.observe(run.durationMs / 1000);
      if (run.result === 'repaired') repairs.inc();
      if (run.result !== 'failed' && run.result !== 'no-config') lastSuccess.set(Date.now() / 1000);
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
