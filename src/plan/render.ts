// Plan output for people (renderPlan, in the style of `terraform plan`) and for programs
// (planToJson).
//
// JSON plan format, version "1" (`vlannet plan --json`). Stable: fields are only ever added;
// a breaking change bumps format_version.
//
//   {
//     "format_version": "1",
//     "changes": [                      // in stage order
//       {
//         "object": "endpoint.web1",    // stable object address: netns.NAME, vlan.NAME,
//                                       // dummy.NETWORK, endpoint.NAME, endpoint.NAME.ipv4|ipv6,
//                                       // endpoint.NAME.route4|route6
//         "change": "create",           // create | update | delete | replace (a replace is several
//                                       // entries of one object, each "replace": a link-add, the
//                                       // link-del of the old link, a link-set renaming the new one)
//         "reason": "not in the kernel",// for people; never branch on it
//         "stage": 8,                   // the order: an entry waits for lower stages in its
//                                       // namespace and vlannet's own, and for lower-stage
//                                       // deletions anywhere; one stage's entries are independent
//         "reason_code": "absent",      // for programs: absent | unconfigured | drift |
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
//     "summary": { "add": 3, "change": 1, "replace": 1, "destroy": 0 },  // objects; a replace counts once
//     "upstream_routes": [              // ipvlan l3/l3s: what upstream routers need; never applied
//       { "network": "ipvlan120", "subnet": "192.168.120.0/24", "via": "192.168.1.249", "parent": "eth0" }
//     ],
//     "warnings": [ { "severity": "warning", "at": "", "path": "", "message": "…" } ]
//   }

import { createRequire } from 'node:module';
import type { Action, AttributeChange, Plan, Reason } from '../model/types.js';
import { describeOp, forcedBy, reasonText } from './describe.js';
import { groupBy } from '../model/collections.js';
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

/** Objects, not actions: a replace takes several actions (removal, creation, rename) and counts once. */
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

export function planToJson(plan: Plan): PlanJson {
  return {
    format_version: PLAN_FORMAT_VERSION,
    changes: plan.actions.map((a) => ({
      object: a.object,
      change: a.change,
      reason: reasonText(a.reason),
      stage: a.stage,
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

const SYMBOL: Record<Action['change'], { text: string; color: keyof typeof ANSI; verb: string }> = {
  create: { text: '+', color: 'green', verb: 'created' },
  update: { text: '~', color: 'yellow', verb: 'updated in place' },
  delete: { text: '-', color: 'red', verb: 'destroyed' },
  replace: { text: '-/+', color: 'cyan', verb: 'replaced' },
};

/** The plan for people, rendered from its JSON form (planToJson), so that the two never disagree. */
export function renderPlan(plan: PlanJson, opts: { color: boolean }): string {
  const paint = (color: keyof typeof ANSI, text: string) => (opts.color ? `\x1b[${ANSI[color]}m${text}\x1b[0m` : text);
  const out: string[] = [];
  const blocks = groupBy(plan.changes, (a) => a.object);

  if (blocks.size) out.push('vlannet will perform the following actions:', '');
  for (const [object, actions] of blocks) {
    const kinds = new Set(actions.map((a) => a.change));
    const change: Action['change'] =
      kinds.has('replace') || (kinds.has('create') && kinds.has('delete')) ? 'replace' : kinds.size === 1 ? actions[0]!.change : 'update';
    const sym = SYMBOL[change];
    const reasons = [...new Set(actions.map((a) => a.reason))].join('; ');
    out.push(`${paint('bold', `  # ${object} will be ${sym.verb}`)}: ${reasons}`);
    out.push(`${paint(sym.color, sym.text.padStart(3))} ${object}`);
    for (const a of actions) {
      const line =
        a.change === 'replace' ? SYMBOL[isRemoval(a.op) ? 'delete' : a.op.op === 'link-set' ? 'update' : 'create'] : SYMBOL[a.change];
      out.push(`      ${paint(line.color, line.text)} ${describeOp(a.op)}`);
      if (a.change === 'update' && a.before && a.after) {
        const diff = jsonDiff().diffString(a.before, a.after, { color: opts.color, full: false });
        for (const line of diff.replace(/\n$/, '').split('\n')) out.push(`          ${line}`);
      }
    }
    out.push('');
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
