// Namespaces in use. Removing /run/netns/NAME only drops the name: a process still inside keeps
// the namespace, and with it vlannet's endpoint link, up on the LAN with its address, which
// vlannet can then no longer see (and would hand out again). So a plan that removes a namespace,
// or removes or replaces an endpoint in one, is refused while a process uses it, naming the
// processes; forced, the endpoint links go first, so nothing of vlannet's stays on the LAN, and
// the processes are left with their loopback. Pure: the processes come from the kernel adapter.

import { objectOf } from '../model/owner.js';
import type { Action, Diagnostic, NamespaceUser, Plan } from '../model/types.js';
import { DiagnosticsError } from '../errors.js';
import { STAGE } from './order.js';
import { reasonText, whoUses } from './describe.js';

/** Named namespaces where the plan removes the namespace, or removes or replaces a link. */
export function namespacesAtRisk(plan: Plan): string[] {
  const names = new Set<string>();
  for (const a of plan.actions) {
    if (a.op.op === 'netns-del') names.add(a.op.netns);
    else if (a.op.op === 'link-del' && a.op.netns !== null) names.add(a.op.netns);
  }
  return [...names].sort();
}

/**
 * `plan` unchanged when no process uses a namespace it puts at risk; otherwise, unless `force`,
 * DiagnosticsError naming the processes; forced, the plan with the endpoint links of each used
 * namespace it removes deleted first (before the namespace).
 */
export function guardNamespacesInUse(plan: Plan, users: Readonly<Record<string, NamespaceUser[]>>, force: boolean): Plan {
  const used = (netns: string | null) => (netns === null ? undefined : users[netns]?.length ? users[netns] : undefined);
  const problems: Diagnostic[] = [];
  const actions: Action[] = [];
  for (const a of plan.actions) {
    const op = a.op;
    if (op.op === 'netns-del' && used(op.netns)) {
      const links = op.links ?? [];
      const what = links.length
        ? `, and with it ${links.map((l) => `link ${l.before.name} (${l.addresses.map((x) => `${x.address}/${x.prefixLength}`).join(', ') || 'no address'})`).join(', ')}`
        : '';
      problems.push(inUse(`netns.${op.netns}`, `removing namespace ${op.netns} (${reasonText(a.reason)})${what}`, used(op.netns)!, force));
      if (!force) continue;
      // The links first, so that what the processes keep is an empty namespace.
      for (const l of links) {
        const id = l.before.identity;
        actions.push({
          object: id ? objectOf(id) : `link.${op.netns}.${l.before.name}`,
          change: 'delete',
          reason: { code: 'in-use', netns: op.netns, users: used(op.netns)! },
          op: { op: 'link-del', netns: op.netns, name: l.before.name, ...l },
          stage: STAGE.endpointDel,
          before: { name: l.before.name },
        });
      }
      actions.push({ ...a, op: { op: 'netns-del', netns: op.netns } });
      continue;
    }
    if (op.op === 'link-del' && used(op.netns)) {
      problems.push(
        inUse(
          a.object,
          `${a.change === 'replace' ? 'replacing' : 'removing'} link ${op.name} in namespace ${op.netns} (${reasonText(a.reason)})`,
          used(op.netns)!,
          force,
        ),
      );
    }
    actions.push(a);
  }
  if (problems.length === 0) return plan;
  if (!force) throw new DiagnosticsError(problems);
  return { ...plan, actions: actions.sort((x, y) => x.stage - y.stage), warnings: [...plan.warnings, ...problems] };
}

function inUse(object: string, doing: string, users: NamespaceUser[], force: boolean): Diagnostic {
  const uses = `${whoUses(users)} still use${users.length === 1 ? 's' : ''} that namespace`;
  return force
    ? { severity: 'warning', at: '', path: object, message: `${doing}, while ${uses}: forced, so vlannet's link there is removed first` }
    : {
        severity: 'error',
        at: '',
        path: object,
        message:
          `${doing}, while ${uses}: the process would keep vlannet's link, with its address, on the LAN. ` +
          'Stop it first, or apply with --force (the link is removed first)',
      };
}
