// The shape of every --json document (output.ts), as a zod schema: the source of
// schemas/vlannet-output.schema.json (`npm run schema` writes it; test/unit/output.test.ts checks
// it is current and that real documents match it; so does the kernel suite for the commands that
// need a kernel). Objects are open: a later version only ever adds fields; a breaking change bumps
// format_version.

import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as z from 'zod/mini';
import { OUTPUT_FORMAT_VERSION } from './output.js';

const d = <T extends z.ZodMiniType>(schema: T, description: string): T => schema.check(z.describe(description)) as T;
const nullable = <T extends z.ZodMiniType>(schema: T) => z.nullable(schema);
const int = () => z.int();
const str = () => z.string();

const Diagnostic = d(
  z.object({
    severity: z.enum(['error', 'warning']),
    file: nullable(str()),
    line: nullable(int()),
    column: nullable(int()),
    path: d(str(), 'YAML path of the object, e.g. `networks.macnet50.subnets[0].gateway`; empty when not from the file.'),
    message: str(),
  }),
  'A problem with the config file, or a warning.',
);

const ErrorJson = d(
  z.object({
    kind: z.enum(['config', 'usage', 'kernel', 'apply', 'verify', 'lock', 'daemon', 'stale', 'trial', 'system', 'bug']),
    message: d(str(), 'The error as the command line prints it.'),
    errno: d(nullable(str()), 'The errno name (EBUSY, ENOENT …) when the kernel or the system refused.'),
  }),
  'Why the command failed.',
);

const envelope = {
  format_version: d(z.literal(OUTPUT_FORMAT_VERSION), 'Bumped only by a breaking change.'),
  diagnostics: z.array(Diagnostic),
};

const Change = d(
  z.looseObject({
    object: d(str(), 'Stable object address: netns.NAME, vlan.NAME, dummy.NETWORK, endpoint.NAME, endpoint.NAME.ipv4 …'),
    change: z.enum(['create', 'update', 'delete', 'replace']),
    reason: d(str(), 'For people; never branch on it.'),
    reason_code: z.enum([
      'absent',
      'unconfigured',
      'destroy',
      'drift',
      'cannot-update',
      'parent-replaced',
      'readdressed',
      'duplicate',
      'unfinished',
      'staged',
      'freed-first',
      'in-use',
    ]),
    forced_by: z.optional(z.array(str())),
    stage: d(int(), 'The order: an entry waits for lower stages in its namespace and vlannet’s own.'),
    op: d(z.looseObject({ op: str() }), 'The kernel operation, exactly as the executor runs it.'),
    before: z.optional(z.record(str(), z.unknown())),
    after: z.optional(z.record(str(), z.unknown())),
  }),
  'One change of a plan.',
);

const Summary = z.object({ add: int(), change: int(), replace: int(), destroy: int() });
const UpstreamRoute = z.object({ network: str(), subnet: str(), via: nullable(str()), parent: str() });
const planData = { changes: z.array(Change), summary: Summary, upstream_routes: z.array(UpstreamRoute) };
const Plan = z.looseObject(planData);
const Timings = z.object({ observe_ms: z.number(), plan_ms: z.number(), execute_ms: z.number(), verify_ms: z.number() });

const Link = z.looseObject({
  netns: d(nullable(str()), "The namespace; null: vlannet's own."),
  name: str(),
  index: int(),
  kind: str(),
  parent: nullable(str()),
  mtu: int(),
  mac: str(),
  up: z.boolean(),
  alias: d(nullable(str()), 'The ownership mark, for links vlannet made.'),
});
const Address = z.looseObject({
  netns: nullable(str()),
  link: str(),
  family: z.union([z.literal(4), z.literal(6)]),
  address: str(),
  prefix_length: int(),
});
const Route = z.looseObject({
  netns: nullable(str()),
  family: z.union([z.literal(4), z.literal(6)]),
  dst: str(),
  gateway: nullable(str()),
  dev: str(),
  protocol: int(),
});
const Namespace = z.looseObject({ name: str(), owned: z.boolean() });

const ok = <C extends string, T extends Record<string, z.ZodMiniType>>(command: C, data: T, description: string) =>
  d(z.looseObject({ ...envelope, command: z.literal(command), ok: z.literal(true), error: z.null(), ...data }), description);

const ValidateDocument = ok(
  'validate',
  { file: str(), valid: z.literal(true), counts: z.object({ networks: int(), endpoints: int(), vlans: int() }) },
  '`vlannet validate --json`: the file is valid (warnings in diagnostics).',
);

const Saved = d(
  z.looseObject({
    config_file: d(str(), 'The config file the plan was computed from (absolute); apply reads it again.'),
    config_hash: d(str(), "sha256 of the config file's bytes: its revision, as the daemon reports it."),
    observed_fingerprint: d(str(), 'sha256 of the part of the kernel state the plan depends on (src/plan/saved.ts).'),
    created_at: str(),
    vlannet_version: str(),
    scope: d(z.looseObject({}), 'What the fingerprint covers beyond what vlannet owns.'),
    observed: d(z.looseObject({}), 'The fingerprinted state itself, to say what changed.'),
    actions: d(z.array(z.looseObject({ op: z.looseObject({ op: str() }) })), 'The actions exactly as the executor runs them.'),
    warnings: z.array(z.unknown()),
  }),
  'A saved plan (`plan --out PLANFILE`): what `apply PLANFILE` checks before it runs the actions.',
);

const PlanDocument = ok(
  'plan',
  {
    file: nullable(str()),
    daemon_pid: d(nullable(int()), 'The daemon that answered, or null.'),
    ...planData,
    saved: z.optional(Saved),
    current: z.optional(d(z.literal(true), '`plan PLANFILE --check`: the saved plan still holds.')),
  },
  '`vlannet plan --json`, and a saved plan (`plan --out PLANFILE`, `plan PLANFILE`).',
);

const Trial = d(
  z.looseObject({
    id: str(),
    state: z.enum(['pending', 'confirmed', 'reverted', 'revert-failed']),
    file: d(str(), 'The config file tried.'),
    started_at: str(),
    timeout_ms: int(),
    deadline: d(str(), 'When it is reverted unless confirmed (ISO 8601).'),
    applied: z.boolean(),
    daemon_pid: nullable(int()),
    reverter: nullable(z.looseObject({ kind: z.enum(['systemd', 'process']) })),
  }),
  'A trial (`apply --confirm-timeout`): an apply reverted unless `vlannet confirm` comes before the deadline.',
);

const TrialDocument = (command: 'confirm' | 'revert') =>
  ok(
    command,
    { outcome: z.enum(['confirmed', 'reverted', 'none']), message: str(), trial: nullable(Trial), daemon_pid: nullable(int()) },
    `\`vlannet ${command} --json\`: what became of the trial.`,
  );

const changeData = {
  file: nullable(str()),
  daemon_pid: nullable(int()),
  plan: Plan,
  executed: z.array(z.looseObject({ object: str(), change: str(), op: z.looseObject({ op: str() }) })),
  timings_ms: Timings,
  saved_plan: z.optional(d(str(), '`apply PLANFILE`: the saved plan that was run.')),
  trial: z.optional(d(nullable(Trial), '`apply --confirm-timeout`: the trial begun (null: nothing changed, so nothing to confirm).')),
};
const ApplyDocument = ok('apply', changeData, '`vlannet apply --json`: what was planned and executed.');
const DestroyDocument = ok('destroy', changeData, '`vlannet destroy --json`.');

const ShowDocument = ok(
  'show',
  {
    namespaces: z.array(Namespace),
    links: z.array(Link),
    addresses: z.array(Address),
    routes: z.array(Route),
    unsupported_link_kinds: z.optional(z.array(str())),
    orphans: z.optional(z.array(z.looseObject({ name: str() }))),
  },
  '`vlannet show --json`: what vlannet owns, and the parents its links hang from; `plan --observed` reads it back.',
);

const Run = nullable(
  z.looseObject({
    triggers: z.array(str()),
    started_at: str(),
    duration_ms: z.number(),
    result: z.enum(['converged', 'applied', 'repaired', 'failed', 'no-config']),
    executed: int(),
    error: nullable(str()),
  }),
);

const StatusDocument = ok(
  'status',
  {
    daemon: z.looseObject({ running: z.boolean(), pid: nullable(int()), since: nullable(str()), busy: z.boolean() }),
    summary: str(),
    config: z.looseObject({ file: str(), real_path: nullable(str()), valid: z.boolean(), current_hash: nullable(str()) }),
    applied: nullable(z.looseObject({ hash: str() })),
    last_reconcile: Run,
    last_change: Run,
    last_success_at: nullable(str()),
    reconciles: int(),
    drift_repairs: int(),
    failures: int(),
    plan: nullable(Plan),
    plan_error: nullable(str()),
    trial: z.optional(d(nullable(Trial), 'The last trial since boot (pending, or how it ended), or null.')),
  },
  '`vlannet status --json` (its exit code says whether the daemon runs and is converged).',
);

const FailureDocument = d(
  z.looseObject({ ...envelope, command: str(), ok: z.literal(false), error: ErrorJson }),
  'Any command that failed: diagnostics (for a refused file) and the error.',
);

export const OutputDocument = d(
  z.union([
    ValidateDocument,
    PlanDocument,
    ApplyDocument,
    DestroyDocument,
    ShowDocument,
    StatusDocument,
    TrialDocument('confirm'),
    TrialDocument('revert'),
    FailureDocument,
  ]),
  'A document printed by `vlannet COMMAND --json`.',
);

export const OUTPUT_SCHEMA_ID = 'https://vlannet.dev/schemas/vlannet-output.schema.json';

/** The JSON Schema text of the output, as committed (two-space indent, final newline). */
export function outputSchemaText(): string {
  const schema = z.toJSONSchema(OutputDocument, { target: 'draft-2020-12' });
  return `${JSON.stringify({ $schema: schema.$schema, $id: OUTPUT_SCHEMA_ID, title: 'vlannet --json output', ...schema }, null, 2)}\n`;
}

export function outputSchemaPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const root = here.includes('/dist/') ? join(here, '..', '..', '..') : join(here, '..', '..');
  return join(root, 'schemas', 'vlannet-output.schema.json');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(outputSchemaPath(), outputSchemaText());
  console.log(`wrote ${outputSchemaPath()}`);
}
