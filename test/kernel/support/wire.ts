// The wire: wire0 and wire1, the two ends of one Ethernet segment, given to the suite by its
// harness (test/kernel/wire.sh: two virtio NICs on one QEMU hub in the VM, a veth pair on a capable
// running kernel). vlannet's parent is wire0, in the suite's namespace. Behind wire1 stands the
// Peer: another machine on the segment (a router, a switch port, a host), in a namespace of its own.
// Every test leaves both ends as it found them: up, no addresses, wire1 back in the suite's namespace.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ip, ipJson, must, run } from './sh.js';

export const NEAR = 'wire0';
const FAR = 'wire1';

/** The wire must be there: a suite started without it is a broken harness, not a test to skip. */
export function assertWire(): void {
  for (const end of [NEAR, FAR]) {
    if (run('ip', ['link', 'show', 'dev', end]).status !== 0) {
      throw new Error(
        `the kernel suite's harness provides the wire ${NEAR}/${FAR}; ${end} is missing (run it through scripts/kernel-test.sh)`,
      );
    }
  }
}

/** `ping` from a namespace (null: the suite's): true when an echo came back within `seconds`. */
export function reaches(netns: string | null, address: string, seconds = 5): boolean {
  const family = address.includes(':') ? '-6' : '-4';
  const args = ['ping', family, '-c1', '-w', String(seconds), address];
  return (netns ? run('ip', ['netns', 'exec', netns, ...args]) : run(args[0]!, args.slice(1))).status === 0;
}

/** Two echo requests, one second each: true when none came back. */
export function isolatedFrom(netns: string | null, address: string): boolean {
  const family = address.includes(':') ? '-6' : '-4';
  const args = ['ping', family, '-c2', '-W1', address];
  return (netns ? run('ip', ['netns', 'exec', netns, ...args]) : run(args[0]!, args.slice(1))).status !== 0;
}

export class Peer {
  private readonly nearAddresses: string[] = [];
  private bridged = false;

  /** The peer's namespace, with wire1 moved into it (up, no addresses). */
  constructor(readonly netns = 'far') {
    assertWire();
    ip('netns', 'add', netns);
    ip('link', 'set', FAR, 'netns', netns);
    this.ip('link', 'set', 'lo', 'up');
    this.ip('link', 'set', FAR, 'up');
  }

  /** `ip -n PEER ARGS…`. */
  ip(...args: string[]): string {
    return ip('-n', this.netns, ...args);
  }

  /** The peer's port: wire1, or the bridge it is enslaved to once bridged. */
  get port(): string {
    return this.bridged ? 'br0' : FAR;
  }

  /** Addresses on the peer's port. */
  address(...cidrs: string[]): this {
    for (const c of cidrs) this.ip('addr', 'add', c, 'dev', this.port, ...(c.includes(':') ? ['nodad'] : []));
    return this;
  }

  /** An 802.1q link on the peer's port with these addresses. */
  vlan(id: number, ...cidrs: string[]): this {
    const name = `${FAR}.${id}`;
    this.ip('link', 'add', 'link', FAR, 'name', name, 'type', 'vlan', 'id', String(id));
    this.ip('link', 'set', name, 'up');
    for (const c of cidrs) this.ip('addr', 'add', c, 'dev', name, ...(c.includes(':') ? ['nodad'] : []));
    return this;
  }

  /**
   * wire1 as the port of a bridge br0 (the peer's addresses go on br0): a switch, whose
   * hairpin mode sends a frame back out of the port it came in by (reflective relay, as VEPA needs).
   */
  bridge(): this {
    this.ip('link', 'add', 'br0', 'type', 'bridge');
    this.ip('link', 'set', FAR, 'master', 'br0');
    this.ip('link', 'set', 'br0', 'up');
    this.bridged = true;
    return this;
  }

  hairpin(on: boolean): void {
    must('ip', ['netns', 'exec', this.netns, 'bridge', 'link', 'set', 'dev', FAR, 'hairpin', on ? 'on' : 'off']);
  }

  route(...args: string[]): void {
    this.ip('route', 'add', ...args);
  }

  /** Unplug or plug the peer's end of the wire (link down/up on the peer side). */
  plugged(up: boolean): void {
    this.ip('link', 'set', FAR, up ? 'up' : 'down');
  }

  /** Addresses on wire0, vlannet's parent, in the suite's namespace (removed at close). */
  near(...cidrs: string[]): this {
    for (const c of cidrs) {
      ip('addr', 'add', c, 'dev', NEAR, ...(c.includes(':') ? ['nodad'] : []));
      this.nearAddresses.push(c);
    }
    return this;
  }

  /** The peer's neighbour table: address → MAC. */
  neighbours(): Map<string, string> {
    const list = ipJson<{ dst: string; lladdr?: string }>('-n', this.netns, 'neigh', 'show');
    return new Map(list.flatMap((n) => (n.lladdr ? [[n.dst, n.lladdr.toLowerCase()] as [string, string]] : [])));
  }

  /**
   * What crossed the wire while `traffic` ran, as `tcpdump -e -nn` prints it (link-level headers:
   * MACs and 802.1q tags), captured on the peer's wire1.
   */
  async capture(traffic: () => void): Promise<string[]> {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vlannet-wire-')), 'capture.pcap');
    const child = spawn('ip', ['netns', 'exec', this.netns, 'tcpdump', '-i', FAR, '-U', '-nn', '-w', file], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${stderr}`)), 30_000);
      child.stderr.on('data', (d: Buffer) => {
        stderr += d;
        if (stderr.includes('listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`tcpdump exited ${code}: ${stderr}`));
      });
    });
    try {
      traffic();
    } finally {
      const ended = new Promise((resolve) => child.on('exit', resolve));
      child.kill('SIGINT');
      await ended;
    }
    const read = run('tcpdump', ['-r', file, '-e', '-nn']);
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
    return read.stdout.split('\n').filter((l) => l.trim() !== '');
  }

  /** wire1 back in the suite's namespace, as it was; the peer's namespace gone; wire0's addresses removed. */
  close(): void {
    for (const c of this.nearAddresses) run('ip', ['addr', 'del', c, 'dev', NEAR]);
    run('ip', ['-n', this.netns, 'link', 'set', FAR, 'nomaster']);
    run('ip', ['-n', this.netns, 'addr', 'flush', 'dev', FAR]);
    // By the pid of this process, never `netns 1`: outside the VM that would be the machine's own.
    run('ip', ['-n', this.netns, 'link', 'set', FAR, 'netns', String(process.pid)]);
    run('ip', ['netns', 'del', this.netns]);
    run('ip', ['link', 'set', FAR, 'up']);
    fs.writeFileSync(`/proc/sys/net/ipv6/conf/${FAR}/accept_dad`, '0');
  }
}
