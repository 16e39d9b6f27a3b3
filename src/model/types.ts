// The domain model shared by every layer: what the operator asked for (Config), what the kernel
// holds (ObservedState), what must hold (DesiredState) and the typed kernel operations a plan is
// made of (KernelOp). Plain data only: everything here is JSON-serialisable and has no behaviour,
// so the pure core (config → desired → plan) never imports the kernel adapter.

/** Address family, as the operator sees it. */
export type Family = 4 | 6;

// The words for link kinds and modes, shared by the config, the planner and the kernel adapter
// (kernel/linkinfo.ts maps each to the kernel's number).

export type Driver = 'macvlan' | 'ipvlan';
/** The macvlan modes a network may ask for. */
export const MACVLAN_MODES = ['bridge', 'private', 'vepa', 'passthru'] as const;
export const IPVLAN_MODES = ['l2', 'l3', 'l3s'] as const;
export const IPVLAN_FLAGS = ['bridge', 'private', 'vepa'] as const;
export type MacvlanMode = (typeof MACVLAN_MODES)[number];
/** What the kernel may report of a macvlan: the modes above, and `source`, which vlannet never makes. */
export type KernelMacvlanMode = MacvlanMode | 'source';
export type IpvlanMode = (typeof IPVLAN_MODES)[number];
export type IpvlanFlag = (typeof IPVLAN_FLAGS)[number];

/**
 * A network namespace as vlannet names it: `null` is vlannet's own namespace (the operator writes
 * `host`), any other value a named namespace bound at /run/netns/NAME.
 */
export type Netns = string | null;

// ---------------------------------------------------------------------------------------------
// Diagnostics: every error and warning a person reads.

export interface Diagnostic {
  severity: 'error' | 'warning';
  /** "FILE:LINE:COLUMN" of the offending YAML node, or the file alone, or '' when not from a file. */
  at: string;
  /** YAML path of the object, e.g. `networks.macnet50.subnets[0].gateway`; '' for kernel objects. */
  path: string;
  message: string;
}

// ---------------------------------------------------------------------------------------------
// Config: what the operator wrote, with every default resolved (the one normalising function is
// in src/config). Addresses are not resolved here: that needs the observed state (see DesiredState).

export interface Config {
  version: 1;
  /** The file the config came from, for messages. */
  file: string;
  vlans: VlanConfig[];
  networks: NetworkConfig[];
  endpoints: EndpointConfig[];
}

/** An 802.1q link vlannet creates and owns: from `vlans:`, or implied by a `NAME.VID` parent. */
export interface VlanConfig {
  name: string;
  parent: string;
  id: number;
  /** `vlans` for an explicit entry (always vlannet's); `implied` for a NAME.VID network parent,
   * created only when no link of that name exists that vlannet does not own. */
  source: 'vlans' | 'implied';
  /** MTU written on a `vlans:` entry; null or absent: not set (the kernel's, or what the networks on it need). */
  mtu?: number | null;
  at: string;
  path: string;
}

export interface SubnetConfig {
  /** Canonical CIDR, e.g. `192.168.50.0/24`, `2001:db8:50::/64`. */
  cidr: string;
  family: Family;
  /** Gateway address (no prefix), or null when the network has no gateway (internal, ipvlan l3/l3s, /31, /127). */
  gateway: string | null;
  /**
   * The address reserved as the gateway, never handed out automatically: `gateway` where there is
   * one; on internal and ipvlan l3/l3s networks the gateway written (when inside the subnet) or the
   * first usable address, which is no route's next hop there (Docker's IPAM reserves a gateway on
   * every network). Null where nothing is held back (/31, /32, /127, /128).
   */
  reservedGateway: string | null;
  /** Pool for automatic addresses (canonical CIDR), or null for the whole subnet. */
  ipRange: string | null;
  /** Addresses automatic assignment never hands out (Docker's --aux-address NAME=ADDRESS), as written, in order. */
  auxAddresses: { name: string; address: string; at: string }[];
  at: string;
  path: string;
}

interface NetworkBase {
  name: string;
  /** Name of the link endpoints attach to: an existing link, a vlan (see `vlan`) or the dummy. */
  parent: string;
  /** How the parent comes to exist. `link`: it must already exist and is never changed;
   * `vlan`: an 802.1q link (VlanConfig with that name); `dummy`: an isolated network's dummy link
   * that vlannet creates and owns. */
  parentKind: 'link' | 'vlan' | 'dummy';
  internal: boolean;
  mtu: number | null;
  subnets: SubnetConfig[];
  /** A link of vlannet's own in its own namespace on the parent, through which the host reaches the endpoints (null: none). */
  hostAccess: HostAccessConfig | null;
  at: string;
  path: string;
}

/**
 * `host_access`: the "shim" everyone adds by hand to Docker's macvlan networks. The kernel does not
 * pass frames between a macvlan (or ipvlan) parent and its children, so the host cannot reach its
 * own endpoints over the parent; a sibling link in the host's namespace can, with a host route to
 * each endpoint through it.
 */
export interface HostAccessConfig {
  /** Its name in vlannet's own namespace. */
  ifname: string;
  /** Static addresses (no prefix), or null: automatic from the network's pool, like an endpoint's. */
  ipv4: string | null;
  ipv6: string | null;
  at: string;
  path: string;
}

/** A network, by driver: the modes (and the ipvlan flag) it may have follow from it. */
export type NetworkConfig =
  | (NetworkBase & { driver: 'macvlan'; mode: MacvlanMode; flag: null })
  | (NetworkBase & { driver: 'ipvlan'; mode: IpvlanMode; flag: IpvlanFlag });

export interface EndpointConfig {
  name: string;
  network: string;
  netns: Netns;
  ifname: string;
  /** Static addresses (no prefix) or null for automatic (only where the network has a subnet of that family). */
  ipv4: string | null;
  ipv6: string | null;
  mac: string | null;
  /** Whether the endpoint's namespace gets its default routes through this endpoint. Defaults to
   * true, except for internal networks and endpoints in vlannet's own namespace (false). */
  defaultRoute: boolean;
  at: string;
  path: string;
}

// ---------------------------------------------------------------------------------------------
// ObservedState: what the kernel holds, read over rtnetlink. `vlannet show --json` prints it and
// `vlannet plan --observed FILE` reads it back. Links of every namespace looked at are listed,
// owned or not, so the planner can see parents and names that are taken.

export const OBSERVED_FORMAT_VERSION = 1;

export interface ObservedState {
  format_version: typeof OBSERVED_FORMAT_VERSION;
  /**
   * Link kinds vlannet makes that this kernel refused to make when tried in a throwaway namespace
   * (absent: not tried, as in a state saved by an older vlannet).
   */
  unsupportedLinkKinds?: LinkKind[];
  /** Named namespaces that were looked at (vlannet's own namespace is always looked at). */
  namespaces: NamespaceState[];
  links: LinkState[];
  addresses: AddressState[];
  routes: RouteState[];
  /** Namespaces vlannet made that lost their name but live on in processes (absent: none seen). */
  orphans?: OrphanNamespace[];
}

/** A process in a network namespace. */
export interface NamespaceUser {
  pid: number;
  /** /proc/PID/comm. */
  command: string;
}

/**
 * A namespace vlannet made whose /run/netns name is gone (deleted while a process still used it),
 * kept alive by its processes, with vlannet's endpoint links still in it. vlannet cannot act in it;
 * their addresses are still on the LAN, so they are never handed out again while it lives.
 */
export interface OrphanNamespace {
  /** The name vlannet made it under (its loopback's mark). */
  name: string;
  users: NamespaceUser[];
  /** vlannet's endpoint links in it (parent unknown: null). */
  links: LinkState[];
  addresses: AddressState[];
}

export interface NamespaceState {
  name: string;
  /** True when vlannet created it (its loopback carries the netns owner mark). */
  owned: boolean;
}

export interface LinkState {
  netns: Netns;
  name: string;
  /** Kernel ifindex inside its namespace (informational; names are the identity). */
  index: number;
  /** IFLA_INFO_KIND: macvlan, ipvlan, vlan, dummy, veth, bridge …; '' for a physical device. */
  kind: string;
  /** Name of the lower link in vlannet's own namespace (IFLA_LINK), or null. */
  parent: string | null;
  /** macvlan and ipvlan only. */
  mode?: KernelMacvlanMode | IpvlanMode;
  /** ipvlan only. */
  flag?: IpvlanFlag;
  /** vlan only. */
  vlanId?: number;
  vlanProtocol?: '802.1Q' | '802.1ad';
  mtu: number;
  mac: string;
  up: boolean;
  /** IFLA_IFALIAS; vlannet's owner marks live here (see model/owner.ts). */
  alias: string | null;
  /** IFLA_GROUP, when not 0: VLANNET_LINK_GROUP on every link vlannet makes, from its very creation. */
  group?: number;
  /** net.ipv6.conf.<link>.disable_ipv6, when known. */
  ipv6Disabled?: boolean;
}

export interface AddressState {
  netns: Netns;
  link: string;
  family: Family;
  /** The address alone, canonical form (e.g. `2001:db8::10`). */
  address: string;
  prefixLength: number;
}

export interface RouteState {
  netns: Netns;
  family: Family;
  /** `default` or a canonical CIDR. */
  dst: string;
  gateway: string | null;
  dev: string;
  /** rtm_protocol; VLANNET_ROUTE_PROTOCOL marks vlannet's own routes. */
  protocol: number;
  /** RTA_PRIORITY, when the kernel reports one. */
  metric?: number;
}

// ---------------------------------------------------------------------------------------------
// DesiredState: what must hold in the kernel, fully resolved (addresses allocated, parents known).

export interface DesiredState {
  /** Named namespaces that must exist (created and marked by vlannet when absent). */
  namespaces: string[];
  links: LinkSpec[];
  addresses: AddressState[];
  routes: RouteState[];
  /** ipvlan l3/l3s: routes the upstream routers need (informational, never applied). */
  upstreamRoutes: UpstreamRoute[];
}

/** The kinds of link vlannet makes. */
export type LinkKind = 'macvlan' | 'ipvlan' | 'vlan' | 'dummy';

/** Which object of the config a link is: its identity, whatever its name or namespace (model/owner.ts). */
export interface LinkIdentity {
  /** shim: a network's host access (HostAccessConfig), in vlannet's own namespace. */
  role: 'endpoint' | 'vlan' | 'dummy' | 'shim';
  /** Endpoint name, vlan link name or network name (dummy, shim). */
  name: string;
}

interface LinkSpecBase {
  netns: Netns;
  name: string;
  /** null: leave the kernel's choice (inherited from the parent). */
  mtu: number | null;
  up: boolean;
  /** The owner mark written to IFLA_IFALIAS (markFor(identity, …)); '' on a link made without one. */
  alias: string;
  /** Which object of the config this link is; null for a link vlannet began and never marked. */
  identity: LinkIdentity | null;
  /** true: disable IPv6 on it (the endpoint has no IPv6 address, as Docker does). */
  ipv6Disabled?: boolean;
  /**
   * The ifindex to create it with (`ip link add … index N`), when it must come back exactly as it
   * was (a reverted trial, plan/restore.ts). A wish: if the index is taken, the kernel chooses.
   */
  index?: number;
}

/** A link vlannet owns: an endpoint (macvlan, ipvlan), a vlan, or an isolated network's dummy. */
export type LinkSpec =
  | (LinkSpecBase & {
      kind: 'macvlan';
      parent: string;
      mode: MacvlanMode;
      /** null: the kernel picks a random one. */
      mac: string | null;
    })
  | (LinkSpecBase & { kind: 'ipvlan'; parent: string; mode: IpvlanMode; flag: IpvlanFlag; mac: null })
  | (LinkSpecBase & { kind: 'vlan'; parent: string; vlanId: number; mac: null })
  /** A dummy's MAC is random unless given (given only to restore one exactly). */
  | (LinkSpecBase & { kind: 'dummy'; parent: null; mac: string | null });

/** The mode of a macvlan or ipvlan link (undefined for other kinds). */
export function modeOf(l: LinkSpec): MacvlanMode | IpvlanMode | undefined {
  return l.kind === 'macvlan' || l.kind === 'ipvlan' ? l.mode : undefined;
}

/** The flag of an ipvlan link (undefined for other kinds). */
export function flagOf(l: LinkSpec): IpvlanFlag | undefined {
  return l.kind === 'ipvlan' ? l.flag : undefined;
}

/** The VLAN id of a vlan link (undefined for other kinds). */
export function vlanIdOf(l: LinkSpec): number | undefined {
  return l.kind === 'vlan' ? l.vlanId : undefined;
}

export interface UpstreamRoute {
  network: string;
  /** The subnet upstream routers must route to this host. */
  subnet: string;
  /** The host's address on the parent link in the subnet's family, or null when it has none. */
  via: string | null;
  parent: string;
}

/** rtm_protocol of every route vlannet adds (unassigned in iproute2's rt_protos). */
export const VLANNET_ROUTE_PROTOCOL = 201;

/**
 * The link group (IFLA_GROUP) of every link vlannet makes, set in the create request itself. The
 * owner mark (an alias) takes a second request: a link in this group without a mark is one vlannet
 * began and never finished (it was killed in between), and is deleted by the next apply.
 */
export const VLANNET_LINK_GROUP = 201;

// ---------------------------------------------------------------------------------------------
// Kernel operations: the only things the executor can do. Each carries what it needs to be undone.

export type KernelOp =
  /** Create a named namespace (bind mount at /run/netns/NAME), set its loopback up and mark it. */
  | { op: 'netns-add'; netns: string }
  /** Unmount and remove /run/netns/NAME. The kernel deletes the links inside with it, in one
   * batch, far faster than one link-del each; `links` lists vlannet's links that go with it so an
   * undo can re-create them. */
  | { op: 'netns-del'; netns: string; links?: RemovedLink[] }
  /** Create a link directly in its namespace (never create-then-move), set its alias, mac, mtu, then up. */
  | { op: 'link-add'; link: LinkSpec }
  /** Change attributes of an existing link in place. `before` holds the old values of the same keys. */
  | { op: 'link-set'; netns: Netns; name: string; set: LinkChange; before: LinkChange }
  /** Delete a link; `before` and what went with it let an undo re-create it. */
  | ({ op: 'link-del'; netns: Netns; name: string } & RemovedLink)
  | { op: 'addr-add'; addr: AddressState }
  | { op: 'addr-del'; addr: AddressState }
  | { op: 'route-add'; route: RouteState }
  | { op: 'route-del'; route: RouteState };

/** A link that a deletion takes away, with what goes with it: enough for an undo to restore it. */
export interface RemovedLink {
  before: LinkSpec;
  addresses: AddressState[];
  routes: RouteState[];
}

/** The operations that bring a removed link back as it was. */
function restore(l: RemovedLink): KernelOp[] {
  return [
    { op: 'link-add', link: l.before },
    ...l.addresses.map((addr): KernelOp => ({ op: 'addr-add', addr })),
    ...l.routes.map((route): KernelOp => ({ op: 'route-add', route })),
  ];
}

export interface LinkChange {
  /** A rename (the link is down: a link made beside the one it replaces takes its name). */
  name?: string;
  mtu?: number;
  mode?: MacvlanMode | IpvlanMode;
  flag?: IpvlanFlag;
  mac?: string;
  up?: boolean;
  alias?: string;
  ipv6Disabled?: boolean;
}

/** The namespace an operation acts in (null: vlannet's own). */
export function netnsOfOp(op: KernelOp): Netns {
  switch (op.op) {
    case 'netns-add':
    case 'netns-del':
      return op.netns;
    case 'link-add':
      return op.link.netns;
    case 'link-set':
    case 'link-del':
      return op.netns;
    case 'addr-add':
    case 'addr-del':
      return op.addr.netns;
    case 'route-add':
    case 'route-del':
      return op.route.netns;
  }
}

/** The inverse of an operation, used to roll back a failed apply. */
export function inverse(op: KernelOp): KernelOp[] {
  switch (op.op) {
    case 'netns-add':
      return [{ op: 'netns-del', netns: op.netns }];
    case 'netns-del':
      return [{ op: 'netns-add', netns: op.netns }, ...(op.links ?? []).flatMap(restore)];
    case 'link-add':
      return [{ op: 'link-del', netns: op.link.netns, name: op.link.name, before: op.link, addresses: [], routes: [] }];
    case 'link-set':
      return [{ op: 'link-set', netns: op.netns, name: op.name, set: op.before, before: op.set }];
    case 'link-del':
      return restore(op);
    case 'addr-add':
      return [{ op: 'addr-del', addr: op.addr }];
    case 'addr-del':
      return [{ op: 'addr-add', addr: op.addr }];
    case 'route-add':
      return [{ op: 'route-del', route: op.route }];
    case 'route-del':
      return [{ op: 'route-add', route: op.route }];
  }
}

// ---------------------------------------------------------------------------------------------
// Plans.

/** Terraform's words: create, update in place, delete, and delete-then-create. */
export type ChangeKind = 'create' | 'update' | 'delete' | 'replace';

/** An attribute that differs between the kernel and the file. */
export interface AttributeChange {
  attribute: 'kind' | 'parent' | 'vlanId' | 'netns' | 'name' | 'mode' | 'address' | keyof LinkChange;
  from: string | number | boolean | null;
  to: string | number | boolean | null;
}

/**
 * Why an action is planned, as terraform's plans say it: a small set of codes, and for a replace
 * the attributes that forced it (what cannot change in place). Data, so that programs can read it
 * (`plan --json`: reason_code, forced_by); describe.ts puts it into words, once.
 */
export type Reason =
  /** Wanted and not in the kernel. */
  | { code: 'absent' }
  /** In the kernel and no longer wanted; `with`: the objects that go with it (a namespace's). */
  | { code: 'unconfigured'; with?: string[] }
  /** `vlannet destroy` (or `plan --destroy`): everything vlannet owns goes; `with` as for unconfigured. */
  | { code: 'destroy'; with?: string[] }
  /** Differs in attributes that can be set in place. */
  | { code: 'drift'; changes: AttributeChange[] }
  /** Differs in attributes that cannot be set in place: replaced. */
  | { code: 'cannot-update'; forcedBy: AttributeChange[] }
  /** Replaced because its parent is deleted (and takes its children with it). */
  | { code: 'parent-replaced'; parent: string; because: Reason }
  /** A route re-created because its link loses an address of its family (the kernel may drop it). */
  | { code: 'readdressed'; family: 4 | 6 }
  /** A second owned link for one object. */
  | { code: 'duplicate'; link: string; netns: string | null }
  /** Made by a vlannet that was interrupted before it marked the link as its own. */
  | { code: 'unfinished' }
  /** Made under a temporary name beside the link it replaces; renamed once that is gone. */
  | { code: 'staged'; temporary: string }
  /** A link of a namespace being deleted, deleted on its own first: something new needs what it holds. */
  | { code: 'freed-first'; netns: string }
  /** A link deleted before its namespace because processes use the namespace (--force). */
  | { code: 'in-use'; netns: string; users: NamespaceUser[] };

export interface Action {
  /** Stable address of the object, e.g. `endpoint.web1`, `endpoint.web1.ipv4`, `vlan.eth0.50`, `netns.web1`. */
  object: string;
  change: ChangeKind;
  /** Why (the executor never branches on it); plan/describe.ts says it in words. */
  reason: Reason;
  op: KernelOp;
  /** For updates: the attributes before and after, for the attribute diff in plan output. */
  before?: Record<string, unknown>;
  after?: Record<string, unknown>;
  /**
   * The planner's order. An action waits for the actions of lower stages in its own namespace, in
   * vlannet's own namespace, and for deletions of lower stages anywhere (dependsOn in
   * src/apply/execute.ts); actions of one stage are independent and may be in flight together.
   */
  stage: number;
}

export interface Plan {
  actions: Action[];
  warnings: Diagnostic[];
  upstreamRoutes: UpstreamRoute[];
}

// ---------------------------------------------------------------------------------------------
// The kernel as the executor and the daemon see it. Implemented over rtnetlink in src/kernel and
// in memory for fast tests in test/support.

export interface Kernel {
  /**
   * Read vlannet's own namespace, every named namespace in `netns` and every named namespace that
   * holds a vlannet-owned object or carries the netns owner mark.
   */
  observe(netns: string[], opts?: ObserveOptions): Promise<ObservedState>;
  /** Perform one operation. Independent operations may be in flight together. Rejects with KernelError. */
  apply(op: KernelOp): Promise<void>;
  /**
   * These operations are about to be applied (one execution of a plan): a chance to prepare for
   * many of them at once. finish() follows when the execution is over, done or rolled back.
   */
  prepare?(ops: readonly KernelOp[]): void;
  /**
   * Nothing can start until an operation in flight completes: a chance to do, on this thread,
   * work prepared for the operations to come. Whether any was done.
   */
  idle?(): boolean;
  finish?(): Promise<void> | void;
  /** The processes in each of these named namespaces (those without any are left out). */
  namespaceUsers?(names: readonly string[]): Promise<Record<string, NamespaceUser[]>>;
  /** Forget cached readings, so the next observe() reads everything afresh: the daemon's periodic
   * resync must not trust change notifications (the IPv6 sysctl, for one, sends none). */
  refresh?(): void;
  close(): void;
}

export interface ObserveOptions {
  /**
   * The check right after an apply: part of the apply's cycle, so what the observe before it
   * checked (which namespace each name is) is trusted, as the apply's operations trusted it.
   */
  afterApply?: boolean;
  /**
   * Read only vlannet's own namespace and these named namespaces (the check after an apply that
   * acted only there): what any other namespace holds is left out of the state.
   */
  only?: ReadonlySet<string>;
}
