// What the daemon's unit tests share: the parent every test kernel starts with, a config of one
// macvlan network with the endpoints asked for, and an HTTP GET for the metrics server.

import http from 'node:http';
import type { LinkState } from '../../src/model/types.js';
import { link } from '../fixtures/plan/build.js';

/** The parent of the test network, as the in-memory kernel is seeded with it. */
export const ETH0: LinkState = link('eth0', { mac: '52:54:00:00:00:01' });

/** A config file: network net1 (macvlan on eth0, 192.168.1.0/24) and `endpoints` on it; `extra` lines after. */
export function configText(endpoints: string[], extra = ''): string {
  return `${[
    'version: 1',
    'networks:',
    '  net1:',
    '    driver: macvlan',
    '    parent: eth0',
    '    subnets:',
    '      - subnet: 192.168.1.0/24',
    'endpoints:',
    ...endpoints.map((e) => `  ${e}:\n    network: net1`),
    extra,
  ].join('\n')}\n`;
}

/** GET `url`: its status and body. */
export function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}
