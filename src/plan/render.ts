// Plan output for people (renderPlan, in the style of `terraform plan`) and for programs
// (planToJson).
//
// The human form has one block per top-level object ("group" below): an endpoint's block holds
// its namespace (when no other endpoint of the plan acts there), link, addresses and routes. Its
// header says what happens to the object as a whole, with the reasons of its own changes; nested
// lines are the operations (+ - ~), an object of the block with several operations or a reason of
// its own under a line of its own (`-/+ endpoint.web2.ipv4: address changed …`). The compact form
// (`compact: true`) says each top-level object in one line of at most 100 columns.
//
// JSON plan format, version "1" (`vlannet plan --json`). Stable: fields are only ever added;
// a breaking change bumps format_version.
//
//   {
//     "format_version": "1",
//     "changes": [                      // in stage order
//       {
//         "object": "endpoint.web1",    // stable object address: netns.NAME, vlan.NAME, shim.NETWORK,
//                                       // dummy.NETWORK, endpoint.NAME, endpoint.NAME.ipv4|ipv6,
//                                       // endpoint.NAME.route4|route6
//         "change": "create",           // create | update | delete | replace (a replace is several
//                                       // entries of one object, each "replace": a link-add, the
//                                       // link-del of the old link, a link-set renaming the new one)
//         "reason": "not in the kernel",// for people; never branch on it
//         "stage": 8,                   // the order: an entry waits for lower stages in its
//                                       // namespace and vlannet's own, and for lower-stage
//                                       // deletions anywhere; one stage's entries are independent
//         "group": "endpoint.web1",     // the top-level object whose block shows it in the human
//                                       // form: a link's object for its addresses and routes
//                                       // (endpoint.NAME for endpoint.NAME.ipv4); for netns.NAME the
//                                       // one object with changes in that namespace, else itself;
//                                       // any other object itself (absent from plans of an older
//                                       // vlannet, such as a daemon started before an upgrade)
//         "reason_code": "absent",      // for programs: absent | unconfigured | destroy | drift |
//                                       // cannot-update | parent-replaced | readdressed |
//                                       // duplicate | unfinished | staged | freed-first | in-use
//                                       // (Reason in src/model/types.ts)
//         "forced_by": ["parent"],      // cannot-update only: the attributes that cannot be
//                                       // set in place (kind, parent, vlanId, netns, name, mode,
//                                       // address)
//         "op": { "op": "link-add", … },// the kernel operation, exactly as the executor runs it
//                                       // (KernelOp in src/model/types.ts)
//         "before": { … },              // optional: attributes before (update, delete, replace)
//         "after": { … }                // optional: attributes after (create, update, replace)
//       }
//     ],
//     "summary": { "add": 3, "change": 1, "replace": 1, "destroy": 0 },  // object addresses, not
//                                       // groups; a replace counts once (never as add + destroy)
//     "upstream_routes": [              // ipvlan l3/l3s: what upstream routers need; never applied
//       { "network": "ipvlan120", "subnet": "192.168.120.0/24", "via": "192.168.1.249", "parent": "eth0" }
//     ],
//     "warnings": [ { "severity": "warning", "at": "", "path": "", "message": "…" } ]
//   }

import { createRequire } from 'node:module';
import { groupBy } from '../model/collections.js';
import { objectOf } from '../model/owner.js';
import {
  flagOf,
  modeOf,
  netnsOfOp,
  vlanIdOf,
  type Action,
  type AttributeChange,
  type ChangeKind,
  type KernelOp,
  type LinkSpec,
  type Plan,
  type Reason,
} from '../model/types.js';
import { addressText, describeOp, forcedBy, linkText, reasonText, routeShort, where } from './describe.js';
import { isRemoval } from './order.js';

export const PLAN_FORMAT_VERSION = '1';

/** json-diff, loaded when a plan has an update to show (most plans have none; it costs ~20 ms to load). */
let jsonDiffModule: typeof import('json-diff') | null = null;
function jsonDiff(): typeof import('json-diff') {
  jsonDiffModule ??= createRequire(import.meta.url)('json-diff') as typeof import('json-diff');
  return jsonDiffModule;
}

export interface PlanSummary {
  add: number;
  change: number;
  replace: number;
  destroy: number;
}

/**
 * Object addresses (endpoint.web1.ipv4 apart from endpoint.web1), not actions nor the blocks of
 * the human form: a replace takes several actions (removal, creation, rename) and counts once.
 */
export function summarize(plan: Plan): PlanSummary {
  const kinds = new Map<string, Action['change']>();
  for (const a of plan.actions) {
    const seen = kinds.get(a.object);
    kinds.set(a.object, seen === undefined || seen === a.change ? a.change : 'replace');
  }
  const s: PlanSummary = { add: 0, change: 0, replace: 0, destroy: 0 };
  for (const change of kinds.values()) {
    if (change === 'create') s.add++;
    else if (change === 'update') s.change++;
    else if (change === 'delete') s.destroy++;
    else s.replace++;
  }
  return s;
}

/** One change of a JSON plan: an Action with its reason in words and as data. */
export type ChangeJson = Pick<Action, 'object' | 'change' | 'stage' | 'op'> &
  Partial<Pick<Action, 'before' | 'after'>> & {
    reason: string;
    /** The top-level object whose block shows the change (groupsOf); absent in plans of a vlannet before it. */
    group?: string;
    reason_code: Reason['code'];
    forced_by?: AttributeChange['attribute'][];
  };

/** A plan as `plan --json` prints it (the format above); the human form is rendered from it. */
export interface PlanJson {
  format_version: typeof PLAN_FORMAT_VERSION;
  changes: ChangeJson[];
  summary: PlanSummary;
  upstream_routes: Plan['upstreamRoutes'];
  warnings: Plan['warnings'];
}

const isNetnsOp = (op: KernelOp): op is Extract<KernelOp, { op: 'netns-add' | 'netns-del' }> =>
  op.op === 'netns-add' || op.op === 'netns-del';

/** The link object an address or a route belongs to (`endpoint.web1` for `endpoint.web1.ipv4`); any other object itself. */
function linkObjectOf(c: Pick<Action, 'object' | 'op'>): string {
  const op = c.op;
  const suffix =
    op.op === 'addr-add' || op.op === 'addr-del'
      ? `.ipv${op.addr.family}`
      : op.op === 'route-add' || op.op === 'route-del'
        ? `.route${op.route.family}`
        : '';
  return suffix && c.object.endsWith(suffix) ? c.object.slice(0, -suffix.length) : c.object;
}

/**
 * The top-level object of each change, the block it is shown in: a link's addresses and routes go
 * with the link (`endpoint.web1.ipv4` with `endpoint.web1`); a namespace goes with the one object
 * of the plan whose changes act in it (the endpoint that lives there), else stands alone;
 * `vlan.NAME` and `dummy.NETWORK` stand alone. Linear.
 */
export function groupsOf(changes: readonly Pick<Action, 'object' | 'op'>[]): string[] {
  const tops = changes.map(linkObjectOf);
  const users = new Map<string, Set<string>>();
  changes.forEach((c, i) => {
    const netns = isNetnsOp(c.op) ? null : netnsOfOp(c.op);
    if (netns === null) return;
    const set = users.get(netns);
    if (set) set.add(tops[i]!);
    else users.set(netns, new Set([tops[i]!]));
  });
  return changes.map((c, i) => {
    if (!isNetnsOp(c.op)) return tops[i]!;
    const u = users.get(c.op.netns);
    return u?.size === 1 ? [...u][0]! : c.object;
  });
}

export function planToJson(plan: Plan): PlanJson {
  const groups = groupsOf(plan.actions);
  return {
    format_version: PLAN_FORMAT_VERSION,
    changes: plan.actions.map((a, i) => ({
      object: a.object,
      change: a.change,
      reason: reasonText(a.reason),
      stage: a.stage,
      group: groups[i]!,
      reason_code: a.reason.code,
      ...(a.reason.code === 'cannot-update' ? { forced_by: forcedBy(a.reason) } : {}),
      op: a.op,
      ...(a.before ? { before: a.before } : {}),
      ...(a.after ? { after: a.after } : {}),
    })),
    summary: summarize(plan),
    upstream_routes: plan.upstreamRoutes,
    warnings: plan.warnings,
  };
}

const ANSI = { red: 31, green: 32, yellow: 33, cyan: 36, bold: 1 } as const;

const SYMBOL: Record<ChangeKind, { text: string; color: keyof typeof ANSI; verb: string }> = {
  create: { text: '+', color: 'green', verb: 'created' },
  update: { text: '~', color: 'yellow', verb: 'updated in place' },
  delete: { text: '-', color: 'red', verb: 'destroyed' },
  replace: { text: '-/+', color: 'cyan', verb: 'replaced' },
};

/** How `renderPlan` prints: `compact`, one line per top-level object (`plan --compact`). */
export interface RenderOptions {
  color: boolean;
  compact?: boolean;
}

/** The changes of one object address within a block, in stage order. */
interface Entry {
  object: string;
  change: ChangeKind;
  changes: ChangeJson[];
}

/** What happens to one top-level object (groupsOf): its changes by object address, in stage order. */
interface Block {
  object: string;
  /** What happens to the object as a whole. */
  change: ChangeKind;
  /** The reasons the block's header gives. */
  reasons: string[];
  entries: Entry[];
}

/** What several changes of one object amount to: a removal and a making is a replace. */
function kindOf(changes: readonly ChangeJson[]): ChangeKind {
  const kinds = new Set(changes.map((c) => c.change));
  if (kinds.has('replace') || (kinds.has('create') && kinds.has('delete'))) return 'replace';
  return kinds.size === 1 ? changes[0]!.change : 'update';
}

const distinct = (changes: readonly ChangeJson[]) => [...new Set(changes.map((c) => c.reason))];

/** The blocks of a plan, in the order of their first change's stage; entries likewise within a block. */
function blocksOf(changes: readonly ChangeJson[]): Block[] {
  // The changes are in stage order: the blocks, and the object addresses within each, come in the
  // order of their first change.
  const groups = changes.every((c) => c.group !== undefined) ? changes.map((c) => c.group!) : groupsOf(changes);
  const byGroup = new Map<string, ChangeJson[]>();
  changes.forEach((c, i) => {
    const list = byGroup.get(groups[i]!);
    if (list) list.push(c);
    else byGroup.set(groups[i]!, [c]);
  });
  return [...byGroup].map(([object, list]) => {
    const entries = [...groupBy(list, (c) => c.object)].map(([o, cs]): Entry => ({ object: o, change: kindOf(cs), changes: cs }));
    const own = entries.find((e) => e.object === object);
    const all = distinct(list);
    return {
      object,
      // A block without changes of its own object (an endpoint whose link stays) is updated in place.
      change: own ? own.change : 'update',
      reasons: own ? distinct(own.changes) : all.length === 1 ? all : [],
      entries,
    };
  });
}

/** The reasons a nested entry shows: those the header does not give and the block does not imply. */
function entryReasons(b: Block, e: Entry): string[] {
  const implied = (c: ChangeJson) =>
    (c.reason_code === 'absent' && (b.change === 'create' || b.change === 'replace')) ||
    ((c.reason_code === 'unconfigured' || c.reason_code === 'destroy') && b.change === 'delete');
  return distinct(e.changes.filter((c) => !b.reasons.includes(c.reason) && !implied(c)));
}

/** The symbol of one operation: within a replace, what the operation itself does. */
const opSymbol = (c: ChangeJson) =>
  c.change === 'replace' ? SYMBOL[isRemoval(c.op) ? 'delete' : c.op.op === 'link-set' ? 'update' : 'create'] : SYMBOL[c.change];

/**
 * The plan for people, rendered from its JSON form (planToJson), so that the two never disagree:
 * one block per top-level object (groupsOf), its changes nested under it, or with `compact` one
 * line per top-level object; then the upstream routes, the warnings and the summary.
 */
export function renderPlan(plan: PlanJson, opts: RenderOptions): string {
  const paint = (color: keyof typeof ANSI, text: string) => (opts.color ? `\x1b[${ANSI[color]}m${text}\x1b[0m` : text);
  const out: string[] = [];
  const blocks = blocksOf(plan.changes);

  if (blocks.length) out.push('vlannet will perform the following actions:', '');
  if (opts.compact) {
    const width = blocks.reduce((w, b) => (b.object.length <= COMPACT_OBJECT_WIDTH ? Math.max(w, b.object.length) : w), 0);
    const users = namespaceUsers(blocks);
    for (const b of blocks) {
      const sym = SYMBOL[b.change];
      const line = fitLine(`${sym.text.padStart(3)} ${b.object.padEnd(width)}`, compactItems(b, users), COMPACT_COLUMNS);
      out.push(`${' '.repeat(3 - sym.text.length)}${paint(sym.color, sym.text)}${line.slice(3)}`);
    }
    if (blocks.length) out.push('');
  } else {
    const opLines = (c: ChangeJson, indent: number) => {
      const sym = opSymbol(c);
      out.push(`${' '.repeat(indent)}${paint(sym.color, sym.text)} ${describeOp(c.op)}`);
      if (c.change === 'update' && c.before && c.after) {
        const diff = jsonDiff().diffString(c.before, c.after, { color: opts.color, full: false });
        for (const line of diff.replace(/\n$/, '').split('\n')) out.push(`${' '.repeat(indent + 4)}${line}`);
      }
    };
    for (const b of blocks) {
      const sym = SYMBOL[b.change];
      const reasons = b.reasons.join('; ');
      out.push(`${paint('bold', `  # ${b.object} will be ${sym.verb}`)}${reasons ? `: ${reasons}` : ''}`);
      out.push(`${paint(sym.color, sym.text.padStart(3))} ${b.object}`);
      for (const e of b.entries) {
        const why = entryReasons(b, e).join('; ');
        // The object's own changes, and a lone change whose object its operation names, are plain lines.
        if (e.object === b.object || (e.changes.length === 1 && e.change !== 'replace' && !why)) {
          for (const c of e.changes) opLines(c, 6);
          continue;
        }
        const esym = SYMBOL[e.change];
        out.push(`${' '.repeat(7 - esym.text.length)}${paint(esym.color, esym.text)} ${e.object}${why ? `: ${why}` : ''}`);
        for (const c of e.changes) opLines(c, 10);
      }
      out.push('');
    }
  }

  if (plan.upstream_routes.length) {
    out.push('Upstream routes (ipvlan l3/l3s; add these on the upstream routers, vlannet does not):');
    for (const r of plan.upstream_routes) {
      const via = r.via ?? `<this host's address on ${r.parent}: it has none in this family>`;
      out.push(`  ${r.subnet} via ${via}   (network ${r.network}, parent ${r.parent})`);
    }
    out.push('');
  }
  for (const w of plan.warnings) {
    const where = [w.at, w.path].filter(Boolean).join(' ');
    out.push(`${paint('yellow', 'Warning:')} ${where ? `${where}: ` : ''}${w.message}`);
  }
  if (plan.warnings.length) out.push('');

  const s = plan.summary;
  out.push(
    plan.changes.length
      ? paint('bold', `Plan: ${s.add} to add, ${s.change} to change, ${s.replace} to replace, ${s.destroy} to destroy.`)
      : 'No changes. The kernel matches the configuration.',
  );
  return `${out.join('\n')}\n`;
}

// The compact form: `SYMBOL OBJECT  WHAT`, WHAT a few comma-separated items (the link, then its
// addresses, then its routes), cut after an item with `… (N more)` to stay within COMPACT_COLUMNS.

const COMPACT_COLUMNS = 100;
/** Objects are padded to the longest one up to this long; a longer one pushes its own line's words right. */
const COMPACT_OBJECT_WIDTH = 28;

/** `head  items`: as many whole items as fit in `max` columns and `… (N more)`, else the line cut with `…`. */
function fitLine(head: string, items: readonly string[], max: number): string {
  const line = (what: string) => (what ? `${head}  ${what}` : head.trimEnd());
  const full = line(items.join(', '));
  if (full.length <= max) return full;
  for (let n = items.length - 1; n > 0; n--) {
    const cut = line(`${items.slice(0, n).join(', ')}, … (${items.length - n} more)`);
    if (cut.length <= max) return cut;
  }
  return `${full.slice(0, max - 1)}…`;
}

/** Namespace → the blocks with changes acting in it (other than the namespace's own). */
function namespaceUsers(blocks: readonly Block[]): Map<string, Set<string>> {
  const users = new Map<string, Set<string>>();
  for (const b of blocks) {
    for (const e of b.entries) {
      for (const c of e.changes) {
        const netns = isNetnsOp(c.op) ? null : netnsOfOp(c.op);
        if (netns === null) continue;
        const set = users.get(netns);
        if (set) set.add(b.object);
        else users.set(netns, new Set([b.object]));
      }
    }
  }
  return users;
}

const shown = (v: unknown) => (v === null || v === undefined ? '(unset)' : String(v));

/** What a link replace changes: the attributes that differ between the old link and the new one. */
function linkDiff(from: LinkSpec, to: LinkSpec): string[] {
  const attrs = (l: LinkSpec): Record<string, unknown> => ({
    kind: l.kind,
    parent: l.parent,
    vlan: vlanIdOf(l),
    netns: where(l.netns),
    name: l.name,
    mode: modeOf(l),
    flag: flagOf(l),
  });
  const a = attrs(from);
  const b = attrs(to);
  const items = Object.keys(a)
    .filter((k) => a[k] !== b[k])
    .map((k) => `${k} ${shown(a[k])} → ${shown(b[k])}`);
  if (from.mtu !== null && to.mtu !== null && from.mtu !== to.mtu) items.push(`mtu ${from.mtu} → ${to.mtu}`);
  return items;
}

/** The link a link-add makes, under the name it ends with (a link made beside another is renamed). */
function madeLink(c: ChangeJson): LinkSpec | null {
  if (c.op.op !== 'link-add') return null;
  const name = c.after?.name;
  return typeof name === 'string' ? { ...c.op.link, name } : c.op.link;
}

/** Entries in the order their words matter, the first kept when a line is cut: link, namespace, addresses, routes. */
function rank(e: Entry): number {
  const op = e.changes[0]!.op.op;
  return op.startsWith('link-') ? 0 : op.startsWith('netns-') ? 1 : op.startsWith('addr-') ? 2 : 3;
}

/** The words of a block's compact line. */
function compactItems(b: Block, users: ReadonlyMap<string, ReadonlySet<string>>): string[] {
  // What comes and goes within an update is marked, and what goes within a replace (what comes
  // with a new link goes without saying); a create or a destroy says it at the front.
  const sign = (c: ChangeJson) =>
    c.change === 'delete' && (b.change === 'update' || b.change === 'replace')
      ? '-'
      : c.change === 'create' && b.change === 'update'
        ? '+'
        : '';
  const made = b.entries.flatMap((e) => e.changes.flatMap((c) => madeLink(c) ?? []));
  const items: string[] = [];
  for (const e of [...b.entries].sort((x, y) => rank(x) - rank(y))) {
    const adds = e.changes.filter((c) => !isRemoval(c.op) && c.op.op !== 'link-set');
    const dels = e.changes.filter((c) => isRemoval(c.op));
    const pair = (text: (c: ChangeJson) => string) => {
      const [from, to] = [dels.map(text).join(' '), adds.map(text).join(' ')];
      if (from && to) items.push(from === to ? `${to} re-added` : `${from} → ${to}`);
      else for (const c of [...dels, ...adds]) items.push(`${sign(c)}${text(c)}`);
    };
    switch (rank(e)) {
      case 0: {
        const add = adds.map(madeLink).find((l) => l !== null);
        const del = dels.find((c) => c.op.op === 'link-del')?.op;
        const old = del?.op === 'link-del' ? del.before : undefined;
        if (add && old) {
          const diff = linkDiff(old, add);
          items.push(...(diff.length ? diff : [linkText(add)]));
        } else if (add) items.push(`${sign(adds[0]!)}${linkText(add)}`);
        else if (del?.op === 'link-del') {
          // Its mtu is what the kernel showed, not something the file asked for: left out.
          const gone = linkText({ ...del.before, mtu: null });
          items.push(`${sign(dels[0]!)}${gone}`, ...del.addresses.map(addressText), ...del.routes.map(routeShort));
        }
        if (add || old) break;
        for (const c of e.changes) {
          if (c.op.op !== 'link-set') continue;
          const before = c.op.before as Record<string, unknown>;
          for (const [k, v] of Object.entries(c.op.set))
            items.push(k in before ? `${k} ${shown(before[k])} → ${shown(v)}` : `${k} ${shown(v)}`);
        }
        break;
      }
      case 1:
        for (const c of e.changes) {
          if (c.op.op === 'netns-add') {
            // A namespace made for the link made in it: the link's words say where.
            const { netns } = c.op;
            if (made.some((l) => l.netns === netns)) continue;
            const used = e.object === b.object ? [...(users.get(netns) ?? [])] : [];
            if (used.length) items.push(`for ${used[0]}`, ...used.slice(1));
            else items.push(`${sign(c)}netns ${netns}`);
          } else if (c.op.op === 'netns-del') {
            // The links that go with it, and their addresses.
            const { netns, links = [] } = c.op;
            const itself = e.object === b.object ? '' : `${sign(c)}netns ${netns}`;
            if (!links.length && itself) items.push(itself);
            links.forEach((l, i) => {
              const id = l.before.identity ? objectOf(l.before.identity) : l.before.name;
              const addrs = l.addresses.map(addressText).join(' ');
              items.push(`${i === 0 ? `${itself ? `${itself} ` : ''}with ` : ''}${id}${addrs ? ` (${addrs})` : ''}`);
            });
          }
        }
        break;
      case 2:
        pair((c) => (c.op.op === 'addr-add' || c.op.op === 'addr-del' ? addressText(c.op.addr) : ''));
        break;
      default:
        pair((c) => (c.op.op === 'route-add' || c.op.op === 'route-del' ? routeShort(c.op.route) : describeOp(c.op)));
    }
  }
  return items;
}
