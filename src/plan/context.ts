// What every part of the planner shares while it plans one desired state against one observed
// state: the drafts it collects, its warnings, and indexes over the observed state, so that a plan
// over thousands of endpoints stays linear. Pure.

import { groupBy } from '../model/collections.js';
import { isUnfinished, objectOf, ownerOf } from '../model/owner.js';
import type {
  Action,
  AddressState,
  ChangeKind,
  DesiredState,
  Diagnostic,
  KernelOp,
  LinkState,
  ObservedState,
  Reason,
  RouteState,
} from '../model/types.js';
import { where } from './describe.js';
import type { Draft, Step } from './order.js';

/** A link's place: its namespace and name. */
export const place = (netns: string | null, name: string) => `${netns ?? ''}\0${name}`;
export const isEndpoint = (kind: string) => kind === 'macvlan' || kind === 'ipvlan';
/** A link neither vlannet's nor one it began to make: never acted on, and what it hangs from or lives in is kept for it. */
export const isStranger = (l: LinkState) => !ownerOf(l) && !isUnfinished(l);

export const ABSENT: Reason = { code: 'absent' };
export const UNCONFIGURED: Reason = { code: 'unconfigured' };

export class PlanContext {
  readonly drafts: Draft[] = [];
  readonly warnings: Diagnostic[];
  /** Observed addresses and routes by the place of their link. */
  readonly addressesAt: Map<string, AddressState[]>;
  readonly routesOn: Map<string, RouteState[]>;
  /** Place → object address, for owned and desired links (`endpoint.web1`). */
  readonly objectAt = new Map<string, string>();

  constructor(
    readonly desired: DesiredState,
    readonly observed: ObservedState,
    warnings: readonly Diagnostic[],
  ) {
    this.warnings = [...warnings];
    this.addressesAt = groupBy(observed.addresses, (a) => place(a.netns, a.link));
    this.routesOn = groupBy(observed.routes, (r) => place(r.netns, r.dev));
    for (const link of observed.links) {
      const mark = ownerOf(link);
      if (mark) this.objectAt.set(place(link.netns, link.name), objectOf(mark));
    }
  }

  add(object: string, change: ChangeKind, reason: Reason, op: KernelOp, step: Step, extra: Partial<Action> = {}): void {
    this.drafts.push({ object, change, reason, op, step, ...extra });
  }

  warn(message: string): void {
    this.warnings.push({ severity: 'warning', at: '', path: '', message });
  }

  /** The object an address or a route of the link at (netns, name) belongs to. */
  objectOn(netns: string | null, link: string): string {
    return this.objectAt.get(place(netns, link)) ?? `link.${where(netns)}.${link}`;
  }
}
