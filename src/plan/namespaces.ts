// The planner's namespaces: made when wanted and missing; deleted when owned and no longer wanted,
// unless they hold links vlannet does not own. Pure.

import { groupBy } from '../model/collections.js';
import type { RemovedLink } from '../model/types.js';
import { ABSENT, UNCONFIGURED, isStranger, type PlanContext } from './context.js';

/** Namespaces to delete, with the owned links (and their objects) that go with each. */
export type DoomedNamespaces = Map<string, { links: RemovedLink[]; objects: string[] }>;

/** Owned namespaces no longer wanted, to be deleted (unless they hold links vlannet does not own), with the links that go with each. */
export function doomedNamespaces(ctx: PlanContext): DoomedNamespaces {
  const strangersIn = groupBy(
    ctx.observed.links.filter((l) => l.netns !== null && l.name !== 'lo' && isStranger(l)),
    (l) => l.netns!,
  );
  const wanted = new Set(ctx.desired.namespaces);
  const doomed: DoomedNamespaces = new Map();
  for (const n of ctx.observed.namespaces) {
    if (!n.owned || wanted.has(n.name)) continue;
    const strangers = strangersIn.get(n.name) ?? [];
    if (strangers.length) {
      ctx.warn(
        `namespace ${n.name} is no longer in the configuration but holds links vlannet does not own (${strangers.map((l) => l.name).join(', ')}); kept`,
      );
      continue;
    }
    doomed.set(n.name, { links: [], objects: [] });
  }
  return doomed;
}

/** The drafts for namespaces: the missing made, the doomed deleted with what goes with them. */
export function namespaceActions(ctx: PlanContext, doomed: DoomedNamespaces): void {
  const have = new Set(ctx.observed.namespaces.map((n) => n.name));
  for (const n of ctx.desired.namespaces) {
    if (!have.has(n)) ctx.add(`netns.${n}`, 'create', ABSENT, { op: 'netns-add', netns: n }, 'netnsAdd', { after: { netns: n } });
  }
  for (const [name, { links, objects }] of doomed) {
    ctx.add(
      `netns.${name}`,
      'delete',
      objects.length ? { code: 'unconfigured', with: objects } : UNCONFIGURED,
      { op: 'netns-del', netns: name, ...(links.length ? { links } : {}) },
      'netnsDel',
      { before: { netns: name, ...(objects.length ? { with: objects } : {}) } },
    );
  }
}
