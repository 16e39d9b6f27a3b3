// Which host a command resolves the config for (the `hosts:` entries of the file, config/hosts.ts):
// this machine, by its host name as the kernel reports it and /etc/machine-id, or the host that
// --host names (for planning another host offline: its machine id is then unknown unless
// --machine-id says it). Labels come from the command line alone (--label KEY=VALUE).

import fs from 'node:fs';
import os from 'node:os';
import type { HostIdentity } from '../config/hosts.js';
import type { HostResolution } from '../config/load.js';
import { UsageError } from '../errors.js';
import type { HostOptions } from './program.js';

export const MACHINE_ID_FILE = '/etc/machine-id';
const MACHINE_ID = /^[0-9a-f]{32}$/;

/** /etc/machine-id in lower case, or null when it cannot be read or holds no id (`uninitialized` on a first boot). */
export function readMachineId(file = MACHINE_ID_FILE): string | null {
  try {
    const id = fs.readFileSync(file, 'utf8').trim().toLowerCase();
    return MACHINE_ID.test(id) ? id : null;
  } catch {
    return null;
  }
}

/** Whether the command line names a host (or its labels or machine id): then the command speaks for that host only. */
export function identityGiven(o: HostOptions): boolean {
  return o.host !== undefined || o.machineId !== undefined || (o.label?.length ?? 0) > 0;
}

/**
 * The host of the command line: --host NAME (with --machine-id, else no machine id), or this
 * machine (os.hostname(), the whole name the kernel reports, and /etc/machine-id unless
 * --machine-id); with the --label labels.
 */
export function hostIdentity(o: HostOptions, machineId: () => string | null = readMachineId): HostIdentity {
  const labels: Record<string, string> = {};
  for (const word of o.label ?? []) {
    const [key, value] = splitLabel(word);
    if (Object.hasOwn(labels, key) && labels[key] !== value)
      throw new UsageError(`--label ${key} is given twice (${key}=${labels[key]}, ${word}): a host has one value per label`);
    labels[key] = value;
  }
  const given = o.machineId?.toLowerCase() ?? null;
  if (o.host !== undefined) return { name: o.host, machineId: given, labels };
  return { name: os.hostname(), machineId: given ?? machineId(), labels };
}

/** KEY=VALUE, split at the first `=`; the key must not be empty. */
export function splitLabel(word: string): [string, string] {
  const i = word.indexOf('=');
  if (i <= 0) throw new UsageError(`--label ${JSON.stringify(word)}: expected KEY=VALUE, e.g. --label rack=a`);
  return [word.slice(0, i), word.slice(i + 1)];
}

/** The identity recorded in a saved plan: labels as KEY=VALUE words (a document's keys are renamed to snake_case, label keys must not be). */
export interface SavedHost {
  name: string;
  machineId: string | null;
  labels: string[];
}

export function savedHost(identity: HostIdentity): SavedHost {
  return {
    name: identity.name,
    machineId: identity.machineId,
    labels: Object.entries(identity.labels)
      .map(([k, v]) => `${k}=${v}`)
      .sort(),
  };
}

export function identityOfSaved(saved: SavedHost): HostIdentity {
  return { name: saved.name, machineId: saved.machineId, labels: Object.fromEntries(saved.labels.map(splitLabel)) };
}

/**
 * For whom `validate` found a file with `hosts:` entries valid: `for host web-1, with entries web-1,
 * rack-a`, or `for every host: 4 by name (…), 1 group by machine id or labels (…) and a host no entry
 * applies to`.
 */
export function validFor(hosts: HostResolution): string {
  if (hosts.identity) {
    const entries = hosts.applied.length
      ? `with ${hosts.applied.length === 1 ? 'entry' : 'entries'} ${hosts.applied.join(', ')}`
      : 'no entry applies';
    return `for host ${hosts.identity.name}, ${entries}`;
  }
  const names = hosts.checks.filter((c) => c.kind === 'host').map((c) => c.name);
  const groups = hosts.checks.filter((c) => c.kind === 'group').map((c) => c.name);
  const parts = [
    ...(names.length ? [`${names.length} ${names.length === 1 ? 'host' : 'hosts'} by name (${names.join(', ')})`] : []),
    ...(groups.length
      ? [`${groups.length} ${groups.length === 1 ? 'group' : 'groups'} by machine id or labels (${groups.join(', ')})`]
      : []),
  ];
  return `for every host: checked ${parts.length ? `${parts.join(', ')} and ` : ''}a host no entry applies to`;
}
