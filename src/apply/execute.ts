// The executor: runs a plan's kernel operations and nothing else. Operations of one stage are
// independent (the planner guarantees it), so they are sent together — pipelined over netlink —
// up to a window. If any operation fails, everything this execution already did is undone in
// reverse, and the error names the object, the operation, the kernel's errno and a hint.

import { inverse, KernelError, type Action, type Kernel, type KernelOp } from '../model/types.js';
import { routeText } from '../plan/render.js';

/** At most this many requests in flight: keeps the acks well inside a socket's receive buffer. */
const WINDOW = 256;

export interface ExecuteOptions {
  /** Called after each action completes (progress bars, logs). */
  onAction?(action: Action, done: number, total: number): void;
}

export interface RollbackReport {
  undone: number;
  /** Undo operations the kernel refused: the kernel is NOT as it was. */
  failed: { op: KernelOp; error: string }[];
}

export class ApplyError extends Error {
  constructor(
    public readonly action: Action,
    public override readonly cause: unknown,
    public readonly rollback: RollbackReport,
    public readonly otherFailures: { action: Action; cause: unknown }[],
  ) {
    super(describeFailure(action, cause));
    this.name = 'ApplyError';
  }
}

/** Execute actions in order, stage by stage; returns the actions executed. Throws ApplyError after rolling back. */
export async function executePlan(kernel: Kernel, actions: Action[], opts: ExecuteOptions = {}): Promise<Action[]> {
  const done: Action[] = [];
  for (const stage of stages(actions)) {
    const failures: { action: Action; cause: unknown }[] = [];
    await runWindowed(stage, async (action) => {
      try {
        await kernel.apply(action.op);
        done.push(action);
        opts.onAction?.(action, done.length, actions.length);
      } catch (cause) {
        failures.push({ action, cause });
      }
    });
    if (failures.length > 0) {
      const rollback = await undo(kernel, done);
      const [first, ...others] = failures;
      throw new ApplyError(first!.action, first!.cause, rollback, others);
    }
  }
  return done;
}

/** Consecutive actions sharing a stage number. */
function stages(actions: Action[]): Action[][] {
  const out: Action[][] = [];
  for (const a of actions) {
    const last = out[out.length - 1];
    if (last && last[0]!.stage === a.stage) last.push(a);
    else out.push([a]);
  }
  return out;
}

async function runWindowed<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(WINDOW, items.length) }, worker));
}

/** Undo completed actions, last first. Undo is sequential: it is the rare path and must be exact. */
async function undo(kernel: Kernel, done: Action[]): Promise<RollbackReport> {
  const report: RollbackReport = { undone: 0, failed: [] };
  for (const action of [...done].reverse()) {
    for (const op of inverse(action.op)) {
      try {
        await kernel.apply(op);
      } catch (error) {
        report.failed.push({ op, error: error instanceof Error ? error.message : String(error) });
      }
    }
    report.undone++;
  }
  return report;
}

export function describeOp(op: KernelOp): string {
  const where = (netns: string | null) => (netns === null ? '' : ` in netns ${netns}`);
  switch (op.op) {
    case 'netns-add': return `create namespace ${op.netns}`;
    case 'netns-del': return `delete namespace ${op.netns}`;
    case 'link-add': return `create ${op.link.kind} link ${op.link.name}${op.link.parent ? ` on ${op.link.parent}` : ''}${where(op.link.netns)}`;
    case 'link-set': return `change link ${op.name}${where(op.netns)} (${Object.keys(op.set).join(', ')})`;
    case 'link-del': return `delete link ${op.name}${where(op.netns)}`;
    case 'addr-add': return `add address ${op.addr.address}/${op.addr.prefixLength} to ${op.addr.link}${where(op.addr.netns)}`;
    case 'addr-del': return `remove address ${op.addr.address}/${op.addr.prefixLength} from ${op.addr.link}${where(op.addr.netns)}`;
    case 'route-add': return `add route ${routeText(op.route)}${where(op.route.netns)}`;
    case 'route-del': return `delete route ${routeText(op.route)}${where(op.route.netns)}`;
  }
}

/** What an operator can do about a kernel refusal, where it is known. */
export function hintFor(op: KernelOp, errno: string): string | null {
  if (errno === 'EPERM' || errno === 'EACCES') return 'vlannet needs CAP_NET_ADMIN and CAP_SYS_ADMIN: run it as root';
  switch (op.op) {
    case 'link-add':
      if (errno === 'EBUSY') return `the parent ${op.link.parent} already carries links of another kind (macvlan and ipvlan cannot share a parent), or is in passthru mode or enslaved`;
      if (errno === 'EEXIST') return `a link named ${op.link.name} already exists there`;
      if (errno === 'ENODEV') return `the parent ${op.link.parent} does not exist (or disappeared during the apply)`;
      if (errno === 'EOPNOTSUPP' || errno === 'ENOTSUP') return `this kernel cannot create ${op.link.kind} links: load the module (modprobe ${op.link.kind === 'vlan' ? '8021q' : op.link.kind})`;
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
