// Kernel operations and their failures in words, one vocabulary for everything people read: the
// plan, the apply's summary and its errors, the daemon's log. An operation is said the way
// iproute2 would be told to do it (`link add eth0 in web1 link eth0.50 type macvlan mode bridge`).
// Pure.

import type { ApplyError } from '../errors.js';
import { KernelError } from '../errors.js';
import type { Action, AddressState, AttributeChange, KernelOp, LinkSpec, NamespaceUser, Reason, RouteState } from '../model/types.js';

/** `DST [via GW] dev DEV`, as iproute2 prints a route. */
export function routeText(r: Pick<RouteState, 'dst' | 'gateway' | 'dev'>): string {
  return `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.dev}`;
}

const inNs = (netns: string | null) => (netns === null ? '' : ` in ${netns}`);

/** One line saying what an operation does, in iproute2's words. */
export function describeOp(op: KernelOp): string {
  switch (op.op) {
    case 'netns-add':
      return `netns add ${op.netns}`;
    case 'netns-del':
      return `netns del ${op.netns}`;
    case 'link-add': {
      const l = op.link;
      const kindWords =
        l.kind === 'vlan'
          ? `id ${l.vlanId}`
          : l.kind === 'macvlan'
            ? `mode ${l.mode}`
            : l.kind === 'ipvlan'
              ? `mode ${l.mode} ${l.flag}`
              : '';
      const attrs = [
        l.parent ? `link ${l.parent}` : '',
        `type ${l.kind}`,
        kindWords,
        l.mtu !== null ? `mtu ${l.mtu}` : '',
        l.mac ? `address ${l.mac}` : '',
        l.ipv6Disabled ? 'ipv6 off' : '',
      ].filter(Boolean);
      return `link add ${l.name}${inNs(l.netns)} ${attrs.join(' ')}`;
    }
    case 'link-set':
      return `link set ${op.name}${inNs(op.netns)} ${Object.entries(op.set)
        .map(([k, v]) => `${k} ${v}`)
        .join(' ')}`;
    case 'link-del':
      return `link del ${op.name}${inNs(op.netns)}`;
    case 'addr-add':
      return `addr add ${op.addr.address}/${op.addr.prefixLength} dev ${op.addr.link}${inNs(op.addr.netns)}`;
    case 'addr-del':
      return `addr del ${op.addr.address}/${op.addr.prefixLength} dev ${op.addr.link}${inNs(op.addr.netns)}`;
    case 'route-add':
    case 'route-del': {
      const r = op.route;
      return `${op.op === 'route-add' ? 'route add' : 'route del'} ${r.family === 6 ? '-6 ' : ''}${routeText(r)}${inNs(r.netns)}`;
    }
  }
}

/** A namespace as people say it: its name, or `host` for vlannet's own. */
export const where = (netns: string | null) => (netns === null ? 'host' : netns);
const shown = (v: AttributeChange['from']) => (v === null ? '(unset)' : String(v));
const isEndpointKind = (kind: AttributeChange['from']) => kind === 'macvlan' || kind === 'ipvlan';

/** The processes that use a namespace, as `pid N (command)`. */
export const whoUses = (users: readonly NamespaceUser[]) => users.map((u) => `pid ${u.pid} (${u.command})`).join(', ');

/** Why an attribute that cannot be set in place forces a replace. */
function forcedText(c: AttributeChange): string {
  const changed = (what: string) => `${what} changed from ${shown(c.from)} to ${shown(c.to)}`;
  switch (c.attribute) {
    case 'kind':
      return `${changed(isEndpointKind(c.from) ? 'driver' : 'kind')} (cannot be changed in place)`;
    case 'parent':
      return `${changed('parent')} (cannot be changed in place)`;
    case 'vlanId':
      return `${changed('vlan id')} (cannot be changed in place)`;
    case 'netns':
      return `namespace changed from ${where(c.from as string | null)} to ${where(c.to as string | null)} (vlannet creates links in their namespace, never moves them)`;
    case 'mode':
      return `${changed('mode')} (passthru cannot be changed in place)`;
    default:
      return changed(c.attribute);
  }
}

/** Why an action is planned, in words: the plan, the daemon's log, the check after an apply. */
export function reasonText(r: Reason): string {
  switch (r.code) {
    case 'absent':
      return 'not in the kernel';
    case 'unconfigured': {
      const n = r.with?.length ?? 0;
      return `no longer in the configuration${n ? `; ${r.with!.join(', ')} go${n === 1 ? 'es' : ''} with it` : ''}`;
    }
    case 'destroy': {
      const n = r.with?.length ?? 0;
      return `vlannet destroys what it made${n ? `; ${r.with!.join(', ')} go${n === 1 ? 'es' : ''} with it` : ''}`;
    }
    case 'drift':
      return r.changes.map((c) => `${c.attribute} ${shown(c.from)} → ${shown(c.to)}`).join(', ');
    case 'cannot-update':
      return r.forcedBy.map(forcedText).join('; ');
    case 'parent-replaced':
      return `its parent ${r.parent} is deleted (${reasonText(r.because)})`;
    case 'readdressed':
      return `its link loses an IPv${r.family} address, and the kernel may drop the route with it: re-created after the address change`;
    case 'duplicate':
      return `a second link for the same object (${r.link} in ${where(r.netns)})`;
    case 'unfinished':
      return 'vlannet began to make it and was interrupted before it was marked as its own';
    case 'staged':
      return `made as ${r.temporary} beside the link it replaces, renamed once that is gone`;
    case 'freed-first':
      return `goes with namespace ${r.netns}, deleted first: something new needs what it holds`;
    case 'in-use':
      return `forced while ${whoUses(r.users)} use${r.users.length === 1 ? 's' : ''} namespace ${r.netns}: the link goes before the namespace`;
  }
}

/** The attributes that forced a replace (terraform's replace paths), or none. */
export function forcedBy(r: Reason): AttributeChange['attribute'][] {
  return r.code === 'cannot-update' ? r.forcedBy.map((c) => c.attribute) : [];
}

/** What an operator can do about a kernel refusal, where it is known. */
export function hintFor(op: KernelOp, errno: string): string | null {
  if (errno === 'EPERM' || errno === 'EACCES') return 'vlannet needs CAP_NET_ADMIN and CAP_SYS_ADMIN: run it as root';
  switch (op.op) {
    case 'link-add':
      if (errno === 'EBUSY')
        return `the parent ${op.link.parent} already carries links of another kind (macvlan and ipvlan cannot share a parent), or is in passthru mode or enslaved`;
      if (errno === 'EEXIST') return `a link named ${op.link.name} already exists there`;
      if (errno === 'ENODEV') return `the parent ${op.link.parent} does not exist (or disappeared during the apply)`;
      if (errno === 'EOPNOTSUPP' || errno === 'ENOTSUP')
        return `this kernel cannot create ${op.link.kind} links: load the module (modprobe ${op.link.kind === 'vlan' ? '8021q' : op.link.kind})`;
      if (errno === 'EINVAL') return `the kernel rejected the attributes (mode, mtu larger than the parent's, mac)`;
      return null;
    case 'link-set':
      if (errno === 'EINVAL' && op.set.mtu !== undefined) return `an MTU larger than the parent's is refused; raise the parent's MTU first`;
      if (errno === 'EBUSY' && op.set.mac !== undefined) return `the MAC address cannot change while the link is up`;
      return null;
    case 'addr-add':
      if (errno === 'EEXIST') return 'the address is already on that link';
      return null;
    case 'route-add':
      if (errno === 'ENETUNREACH') return 'the gateway is not inside any subnet on the endpoint';
      if (errno === 'ENETDOWN') return 'the link is down';
      if (errno === 'EEXIST') return 'a route to the same destination already exists in that namespace';
      return null;
    case 'netns-add':
      if (errno === 'EEXIST') return `/run/netns/${op.netns} already exists`;
      return null;
    default:
      return null;
  }
}

export function describeFailure(action: Action, cause: unknown): string {
  const what = `${action.object}: ${describeOp(action.op)} failed`;
  if (cause instanceof KernelError) {
    const hint = hintFor(action.op, cause.errno);
    return `${what}: the kernel said ${cause.errno}${cause.detail ? ` (${cause.detail})` : ''}${hint ? `\n  hint: ${hint}` : ''}`;
  }
  return `${what}: ${cause instanceof Error ? cause.message : String(cause)}`;
}

/** What an ApplyError means for the kernel, in lines for people: the failures, then what state it is in. */
export function describeApplyError(e: ApplyError): string[] {
  const lines = [e.message, ...e.otherFailures.map((o) => describeFailure(o.action, o.cause))];
  const r = e.rollback;
  if (r === null) {
    const n = e.notDone.length;
    lines.push(
      `the apply had passed its point of no return: everything new is in place, nothing was undone, and ` +
        `${n} step${n === 1 ? '' : 's'} ${n === 1 ? 'was' : 'were'} not done (${[...new Set(e.notDone.map((a) => a.object))].slice(0, 8).join(', ')}` +
        `${n > 8 ? ', …' : ''}); apply again to finish (a running daemon retries by itself)`,
    );
  } else if (r.failed.length === 0) {
    lines.push(`rolled back: ${r.undone} action${r.undone === 1 ? '' : 's'} undone; the kernel is as it was before this apply`);
  } else {
    lines.push(
      `ROLLBACK INCOMPLETE: ${r.failed.length} undo operation(s) failed; run \`vlannet plan\` to see what differs:`,
      ...r.failed.map((f) => `  ${describeOp(f.op)}: ${f.error}`),
    );
  }
  return lines;
}

// Short words for the compact plan (`plan --compact`): what an object is, not how it is made.

/** A link in a few words: `macvlan on eth0.50 in netns web1`, `ipvlan l3 on eth0`, `vlan 50 on eth0`, `dummy vn-net1`. */
export function linkText(l: LinkSpec): string {
  const on = l.parent !== null ? ` on ${l.parent}` : '';
  const what =
    l.kind === 'macvlan'
      ? `macvlan${l.mode === 'bridge' ? '' : ` ${l.mode}`}${on}`
      : l.kind === 'ipvlan'
        ? `ipvlan ${l.mode}${l.flag === 'bridge' ? '' : ` ${l.flag}`}${on}`
        : l.kind === 'vlan'
          ? `vlan ${l.vlanId}${on}`
          : `${l.kind} ${l.name}`;
  return `${what}${l.netns !== null ? ` in netns ${l.netns}` : ''}${l.mtu !== null ? ` mtu ${l.mtu}` : ''}`;
}

/** An address as `ADDRESS/PREFIX`. */
export const addressText = (a: Pick<AddressState, 'address' | 'prefixLength'>) => `${a.address}/${a.prefixLength}`;

/** A route in a few words: `default via GW` (the gateway says the family), else `[-6 ]DST dev DEV`. */
export function routeShort(r: Pick<RouteState, 'family' | 'dst' | 'gateway' | 'dev'>): string {
  return r.gateway ? `${r.dst} via ${r.gateway}` : `${r.family === 6 ? '-6 ' : ''}${r.dst} dev ${r.dev}`;
}
