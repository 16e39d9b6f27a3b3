// deploy/kubernetes, checked without a cluster. Every document of every YAML file there is checked
// against the Kubernetes API schema (kubernetes-models, chosen by apiVersion and kind; a kind with
// no model fails) and for fields the API does not know (the schema allows any: `kubectl apply`'s
// strict field validation refuses them, and a misspelt field would otherwise pass here). Then what
// no schema says: the daemon's -f names a file of the ConfigMap as mounted, that file is a valid
// vlannet config, the config volume has no subPath (a subPath mount never sees an update), NODE_NAME
// comes from spec.nodeName and reaches --host, /run/netns is shared both ways with the node, the
// kustomization lists every file, and the rules the API server checks that a schema cannot.
// Every check is also run on a copy broken on purpose, so that a check that cannot fail is caught.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IDaemonSet } from 'kubernetes-models/apps/v1';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import type { IConfigMap, IContainer, IVolume } from 'kubernetes-models/v1';
import { ConfigMap, Namespace, ServiceAccount } from 'kubernetes-models/v1';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { formatDiagnostic } from '../../src/errors.js';
import type { Diagnostic } from '../../src/model/types.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = here.includes('/dist/') ? path.join(here, '..', '..', '..') : path.join(here, '..', '..');
const DIR = path.join(root, 'deploy', 'kubernetes');

type Json = Record<string, unknown>;
interface Doc {
  file: string;
  /** The document's place in its file, from 0. */
  index: number;
  data: Json;
}
/** What deploy/kubernetes holds, parsed: the checks read only this, so that a test can break a copy. */
interface Deployment {
  yamlFiles: string[];
  docs: Doc[];
  dockerfile: string;
  version: string;
}

function load(): Deployment {
  const yamlFiles = fs
    .readdirSync(DIR)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
  const docs: Doc[] = [];
  for (const file of yamlFiles) {
    parseAllDocuments(fs.readFileSync(path.join(DIR, file), 'utf8')).forEach((d, index) => {
      if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
      docs.push({ file, index, data: d.toJS() as Json });
    });
  }
  return {
    yamlFiles,
    docs,
    dockerfile: fs.readFileSync(path.join(DIR, 'Dockerfile'), 'utf8'),
    version: (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version,
  };
}

const where = (d: Doc) => `${d.file}#${d.index} ${String(d.data.kind)}/${String((d.data.metadata as Json | undefined)?.name)}`;
const isKustomization = (d: Doc) => d.data.kind === 'Kustomization';

// --- The Kubernetes API schema --------------------------------------------------------------------

/** The models of the kinds this deployment uses; any other kind is a failure until it is added here. */
const MODELS: Record<string, (data: Json) => void> = {
  'v1/Namespace': (data) => new Namespace(data as never).validate(),
  'v1/ServiceAccount': (data) => new ServiceAccount(data as never).validate(),
  'v1/ConfigMap': (data) => new ConfigMap(data as never).validate(),
  'apps/v1/DaemonSet': (data) => new DaemonSet(data as never).validate(),
};

function schemaProblems(dep: Deployment): string[] {
  const out: string[] = [];
  for (const d of dep.docs) {
    if (isKustomization(d)) continue; // not an API object: kustomizationProblems
    const validate = MODELS[`${String(d.data.apiVersion)}/${String(d.data.kind)}`];
    if (!validate) {
      out.push(`${where(d)}: no model to validate apiVersion ${String(d.data.apiVersion)} kind ${String(d.data.kind)} against`);
      continue;
    }
    try {
      validate(d.data);
    } catch (e) {
      out.push(`${where(d)}: schema: ${(e as Error).message}`);
    }
  }
  return out;
}

// --- Fields the API does not know -----------------------------------------------------------------

/** What a field holds, as kubernetes-models declares it in TypeScript. */
type Shape = { kind: 'object'; file: string; name: string } | { kind: 'array'; of: Shape } | { kind: 'map'; of: Shape } | { kind: 'value' };

/**
 * The fields of each API type, read from kubernetes-models' declaration files (`"name"?: Type;`
 * in `export interface I…`), which are generated from the Kubernetes OpenAPI document as its
 * validators are; the validators let unknown fields through, the declarations list the known ones.
 */
class Declarations {
  private readonly texts = new Map<string, string>();
  private readonly cache = new Map<string, Map<string, Shape>>();

  private text(file: string): string {
    let t = this.texts.get(file);
    if (t === undefined) {
      t = fs.readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
      this.texts.set(file, t);
    }
    return t;
  }

  /** The fields of interface `name` declared in `file`. */
  fields(file: string, name: string): Map<string, Shape> {
    const key = `${file}#${name}`;
    const known = this.cache.get(key);
    if (known) return known;
    const lines = this.text(file).split('\n');
    const start = lines.findIndex((l) => new RegExp(`^export interface ${name}\\b`).test(l));
    if (start < 0) throw new Error(`${file}: no interface ${name}`);
    const fields = new Map<string, Shape>();
    let current = '';
    for (const line of lines.slice(start + 1)) {
      if (line === '}') break;
      // A field starts at four spaces; a map type goes on over more deeply indented lines.
      if (/^ {4}"/.test(line)) current = line.trim();
      else current += ` ${line.trim()}`;
      const m = /^"([^"]+)"\??: (.*);$/.exec(current);
      if (m && balanced(m[2]!)) fields.set(m[1]!, this.shape(file, m[2]!));
    }
    this.cache.set(key, fields);
    return fields;
  }

  private shape(file: string, type: string): Shape {
    const array = /^Array<(.+)>$/.exec(type);
    if (array) return { kind: 'array', of: this.shape(file, array[1]!) };
    const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
    if (map) return { kind: 'map', of: this.shape(file, map[1]!) };
    if (!/^\w+$/.test(type)) return { kind: 'value' }; // a union of literals, an indexed type
    if (new RegExp(`^export interface ${type}\\b`, 'm').test(this.text(file))) return { kind: 'object', file, name: type };
    for (const m of this.text(file).matchAll(/^import \{ ([^}]+) \} from "([^"]+)";$/gm)) {
      if (!m[1]!.split(',').some((n) => n.trim() === type)) continue;
      const spec = m[2]!;
      const target = spec.startsWith('.')
        ? path.resolve(path.dirname(file), spec.replace(/\.js$/, '.d.ts'))
        : path.join(root, 'node_modules', `${spec}.d.ts`);
      // Exported under its long name (IIoK8sApiCoreV1Container), declared under its short one.
      const local = new RegExp(`(\\w+) as ${type}\\b`).exec(this.text(target))?.[1] ?? type;
      return new RegExp(`^export interface ${local}\\b`, 'm').test(this.text(target))
        ? { kind: 'object', file: target, name: local }
        : { kind: 'value' }; // Quantity, IntOrString, Time: strings or numbers
    }
    return { kind: 'value' }; // string, number, boolean
  }
}

function balanced(type: string): boolean {
  return (type.match(/\{/g) ?? []).length === (type.match(/\}/g) ?? []).length;
}

const declarations = new Declarations();

function unknownFields(value: unknown, shape: Shape, at: string, out: string[]): void {
  if (shape.kind === 'value' || value === null || typeof value !== 'object') return; // types: the schema's
  if (shape.kind === 'array') {
    if (Array.isArray(value)) for (const [i, v] of value.entries()) unknownFields(v, shape.of, `${at}[${i}]`, out);
    return;
  }
  if (Array.isArray(value)) return;
  if (shape.kind === 'map') {
    for (const [key, v] of Object.entries(value)) unknownFields(v, shape.of, `${at}.${key}`, out);
    return;
  }
  const fields = declarations.fields(shape.file, shape.name);
  for (const [key, v] of Object.entries(value)) {
    const field = fields.get(key);
    if (field) unknownFields(v, field, at ? `${at}.${key}` : key, out);
    else out.push(`${at ? `${at}.${key}` : key}: unknown field (${shape.name.replace(/^I/, '')} has no field "${key}")`);
  }
}

function fieldProblems(dep: Deployment): string[] {
  const out: string[] = [];
  for (const d of dep.docs) {
    if (isKustomization(d) || !MODELS[`${String(d.data.apiVersion)}/${String(d.data.kind)}`]) continue;
    const file = path.join(root, 'node_modules', 'kubernetes-models', String(d.data.apiVersion), `${String(d.data.kind)}.d.ts`);
    const found: string[] = [];
    unknownFields(d.data, { kind: 'object', file, name: `I${String(d.data.kind)}` }, '', found);
    out.push(...found.map((f) => `${where(d)}: ${f}`));
  }
  return out;
}

// --- The kustomization ----------------------------------------------------------------------------

/** Kustomization's top-level fields (kustomize v5, api/types/kustomization.go). */
const KUSTOMIZATION_FIELDS = new Set(
  'apiVersion kind metadata namespace namePrefix nameSuffix labels commonLabels commonAnnotations resources components crds configMapGenerator secretGenerator generatorOptions patches images replicas replacements transformers generators validators openapi buildMetadata sortOptions'.split(
    ' ',
  ),
);

function kustomizationProblems(dep: Deployment): string[] {
  const ks = dep.docs.filter(isKustomization);
  if (ks.length !== 1 || ks[0]!.file !== 'kustomization.yaml')
    return [`kustomization.yaml: expected one Kustomization, in kustomization.yaml; found ${ks.map(where).join(', ') || 'none'}`];
  const k = ks[0]!.data;
  const out: string[] = [];
  if (k.apiVersion !== 'kustomize.config.k8s.io/v1beta1') out.push(`kustomization.yaml: apiVersion ${String(k.apiVersion)}`);
  for (const key of Object.keys(k)) if (!KUSTOMIZATION_FIELDS.has(key)) out.push(`kustomization.yaml: unknown field ${key}`);
  const resources = Array.isArray(k.resources) ? (k.resources as unknown[]).map(String) : [];
  for (const f of dep.yamlFiles)
    if (f !== 'kustomization.yaml' && !resources.includes(f)) out.push(`kustomization.yaml: ${f} is not listed in resources`);
  for (const r of resources) if (!dep.yamlFiles.includes(r)) out.push(`kustomization.yaml: resources lists ${r}, which is not a file here`);
  // Every object in the namespace the kustomization sets, and that namespace made here.
  const ns = k.namespace;
  if (typeof ns !== 'string') out.push('kustomization.yaml: no namespace');
  for (const d of dep.docs) {
    if (isKustomization(d)) continue;
    const meta = (d.data.metadata ?? {}) as Json;
    if (d.data.kind === 'Namespace') {
      if (meta.name !== ns) out.push(`${where(d)}: the kustomization's namespace is ${String(ns)}`);
    } else if (meta.namespace !== ns) out.push(`${where(d)}: namespace ${String(meta.namespace)}, the kustomization's is ${String(ns)}`);
  }
  if (!dep.docs.some((d) => d.data.kind === 'Namespace' && (d.data.metadata as Json | undefined)?.name === ns))
    out.push(`no Namespace ${String(ns)} is made here`);
  return out;
}

// --- What the API server and vlannet need of the DaemonSet ---------------------------------------

function only<T>(dep: Deployment, kind: string): { doc: Doc; data: T } | string {
  const found = dep.docs.filter((d) => d.data.kind === kind);
  return found.length === 1 ? { doc: found[0]!, data: found[0]!.data as T } : `expected one ${kind}, found ${found.length}`;
}

/** The value after `flag` in the args (`--flag VALUE` or `--flag=VALUE`), or null. */
function flagValue(args: readonly string[], ...flags: string[]): string | null {
  for (let i = 0; i < args.length; i++) {
    if (flags.includes(args[i]!)) return args[i + 1] ?? null;
    for (const f of flags) if (f.startsWith('--') && args[i]!.startsWith(`${f}=`)) return args[i]!.slice(f.length + 1);
  }
  return null;
}

function daemonSetProblems(dep: Deployment): string[] {
  const found = only<IDaemonSet>(dep, 'DaemonSet');
  const cm = only<IConfigMap>(dep, 'ConfigMap');
  if (typeof found === 'string') return [found];
  if (typeof cm === 'string') return [cm];
  const ds = found.data;
  const at = where(found.doc);
  const out: string[] = [];
  const problem = (text: string) => out.push(`${at}: ${text}`);
  const pod = ds.spec?.template.spec;
  const c: IContainer | undefined = pod?.containers.find((x) => x.name === 'vlannet');
  if (!pod || !c) return [`${at}: no container named vlannet`];
  const args = c.args ?? [];
  const volumes = new Map<string, IVolume>((pod.volumes ?? []).map((v) => [v.name, v]));
  const mounts = c.volumeMounts ?? [];

  // What the API server refuses and no schema says.
  const labels = ds.spec?.template.metadata?.labels ?? {};
  for (const [k, v] of Object.entries(ds.spec?.selector.matchLabels ?? {}))
    if (labels[k] !== v) problem(`the selector's ${k}=${v} is not a label of the pod template`);
  for (const m of mounts) if (!volumes.has(m.name)) problem(`volumeMount ${m.name} names no volume`);
  if (c.securityContext?.privileged === true && c.securityContext.allowPrivilegeEscalation === false)
    problem('allowPrivilegeEscalation: false with privileged: true is refused by the API server');
  const env = new Map((c.env ?? []).map((e) => [e.name, e]));
  // An undefined $(VAR) is left as it is: vlannet would be given the text "$(VAR)".
  for (const a of [...(c.command ?? []), ...args])
    for (const m of a.matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) if (!env.has(m[1]!)) problem(`args use $(${m[1]}), which is not in env`);

  // The daemon, its config file as the ConfigMap volume holds it, without subPath.
  if (args[0] !== 'daemon' || c.command !== undefined)
    problem(`args must start with daemon (the image's entrypoint is vlannet): ${args.join(' ')}`);
  const file = flagValue(args, '-f', '--file');
  const configVolumes = [...volumes.values()].filter((v) => v.configMap?.name === cm.data.metadata?.name);
  if (configVolumes.length !== 1) problem(`expected one volume of ConfigMap ${cm.data.metadata?.name}, found ${configVolumes.length}`);
  const configMounts = mounts.filter((m) => configVolumes.some((v) => v.name === m.name));
  for (const m of configMounts)
    if (m.subPath !== undefined || m.subPathExpr !== undefined)
      problem(`the config volume is mounted with subPath at ${m.mountPath}: a subPath mount never sees the ConfigMap's updates`);
  const mount = configMounts.find((m) => file?.startsWith(`${m.mountPath.replace(/\/$/, '')}/`));
  if (!file || !mount)
    problem(
      `-f ${file ?? '(none)'} is not inside the mounted ConfigMap (${configMounts.map((m) => m.mountPath).join(', ') || 'not mounted'})`,
    );
  else {
    const key = file.slice(mount.mountPath.replace(/\/$/, '').length + 1);
    const items = configVolumes[0]?.configMap?.items;
    const projected = items ? items.find((i) => i.path === key)?.key : key;
    if (projected === undefined || cm.data.data?.[projected] === undefined)
      problem(`-f ${file}: the ConfigMap ${cm.data.metadata?.name} has no key ${projected ?? key}`);
  }

  // The node's name, from the downward API, to --host.
  const node = env.get('NODE_NAME');
  if (node?.valueFrom?.fieldRef?.fieldPath !== 'spec.nodeName' || node.value !== undefined)
    problem('env NODE_NAME must come from fieldRef spec.nodeName');
  if (flagValue(args, '--host') !== '$(NODE_NAME)') problem(`--host must be $(NODE_NAME), not ${flagValue(args, '--host') ?? '(none)'}`);

  // The node's namespaces, processes and /run/netns, /run/vlannet.
  if (pod.hostNetwork !== true) problem('hostNetwork must be true: the parents and the host namespace are the node’s');
  if (pod.hostPID !== true) problem('hostPID must be true: vlannet refuses to remove a namespace a process uses, and finds them in /proc');
  const hostMount = (dir: string) => {
    const m = mounts.find((x) => x.mountPath.replace(/\/$/, '') === dir);
    const v = m && volumes.get(m.name);
    if (!m || v?.hostPath?.path.replace(/\/$/, '') !== dir) problem(`${dir} must be the node's ${dir}, a hostPath volume mounted there`);
    return m;
  };
  const netns = hostMount('/run/netns');
  if (netns && netns.mountPropagation !== 'Bidirectional')
    problem(
      `/run/netns: mountPropagation ${netns.mountPropagation ?? 'None'}: namespaces made here would not appear on the node (Bidirectional)`,
    );
  if (netns?.mountPropagation === 'Bidirectional' && c.securityContext?.privileged !== true)
    problem('Bidirectional mount propagation is allowed only in a privileged container: the API server refuses it');
  if (netns?.readOnly === true) problem('/run/netns is read-only: vlannet bind-mounts namespaces there');
  const run = hostMount('/run/vlannet');
  if (run?.readOnly === true) problem('/run/vlannet is read-only: the lock and the control socket live there');

  // Metrics where the liveness probe asks; readiness from `vlannet status`.
  const metrics = flagValue(args, '--metrics');
  const metricsPort = metrics === null ? null : Number(/:(\d+)$/.exec(metrics)?.[1]);
  const probePort = c.livenessProbe?.httpGet?.port;
  const probeNumber = typeof probePort === 'string' ? c.ports?.find((p) => p.name === probePort)?.containerPort : probePort;
  if (metricsPort === null || probeNumber !== metricsPort)
    problem(
      `the liveness probe asks port ${String(probePort)} (${String(probeNumber)}), the daemon serves metrics on ${metrics ?? '(no --metrics)'}`,
    );
  if (!['/metrics', '/'].includes(c.livenessProbe?.httpGet?.path ?? ''))
    problem('the liveness probe must GET /metrics (what --metrics serves)');
  if (c.readinessProbe?.exec?.command?.join(' ') !== 'vlannet status')
    problem('the readiness probe must be `vlannet status` (exit 0: converged)');

  // Every node, first to be kept, last to be evicted; one daemon per node at a time.
  if (!(pod.tolerations ?? []).some((t) => t.operator === 'Exists' && t.key === undefined && t.effect === undefined))
    problem('tolerations must tolerate every taint (operator: Exists, no key, no effect)');
  if (pod.priorityClassName !== 'system-node-critical') problem('priorityClassName must be system-node-critical');
  const rolling = ds.spec?.updateStrategy;
  if (rolling?.type !== 'RollingUpdate' || rolling.rollingUpdate?.maxSurge !== 0)
    problem('updateStrategy must be RollingUpdate with maxSurge 0: two daemons on a node contend for its lock');
  if (!c.resources?.requests?.memory || !c.resources.limits?.memory) problem('memory requests and limits must be set');
  if (c.securityContext?.readOnlyRootFilesystem !== true) problem('readOnlyRootFilesystem must be true');
  if (pod.automountServiceAccountToken !== false) problem('automountServiceAccountToken must be false: vlannet never calls the API');
  const sa = only<Json>(dep, 'ServiceAccount');
  if (typeof sa === 'string' || pod.serviceAccountName !== (sa.data.metadata as Json).name)
    problem(`serviceAccountName ${pod.serviceAccountName} is not the ServiceAccount made here`);

  // The image: this version's, whose entrypoint is vlannet.
  if (c.image !== `ghcr.io/vlannet/vlannet:${dep.version}`)
    problem(`image ${c.image}: expected ghcr.io/vlannet/vlannet:${dep.version} (package.json)`);
  if (!/^ENTRYPOINT \["vlannet"\]$/m.test(dep.dockerfile)) out.push('Dockerfile: ENTRYPOINT must be ["vlannet"]');
  if (!/^FROM node:20-slim\b/m.test(dep.dockerfile) || !/npm pack\b/.test(dep.dockerfile))
    out.push('Dockerfile: the npm package (npm pack) on node:20-slim');
  return out;
}

// --- The config in the ConfigMap ------------------------------------------------------------------

/** A Kubernetes node name: an RFC 1123 subdomain. */
const NODE_NAME = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function configProblems(dep: Deployment): string[] {
  const cm = only<IConfigMap>(dep, 'ConfigMap');
  if (typeof cm === 'string') return [cm];
  const text = cm.data.data?.['vlannet.yaml'];
  if (text === undefined) return ['configmap.yaml: no key vlannet.yaml'];
  const label = 'configmap.yaml[vlannet.yaml]';
  const errors = (diagnostics: Diagnostic[]) => diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);
  // As `vlannet validate` reads it: every host configuration the file names.
  const out = errors(loadConfig(text, label).diagnostics);
  // As each node's daemon reads it (`--host NODE_NAME`): the shared part and that node's own entry.
  const raw = (parseYaml(text) ?? {}) as Json;
  const hosts = (raw.hosts ?? {}) as Record<string, Json | null>;
  if (Object.keys(hosts).length === 0) out.push(`${label}: no hosts: entries; each node's endpoints go under its name there`);
  const shared = Object.keys((raw.endpoints ?? {}) as Json);
  for (const [node, entry] of Object.entries(hosts)) {
    if (!NODE_NAME.test(node)) out.push(`${label}: hosts.${node}: not a Kubernetes node name (RFC 1123): no node's --host can be it`);
    const loaded = loadConfig(text, label, { name: node, machineId: null, labels: {} });
    out.push(...errors(loaded.diagnostics));
    const own = Object.keys((entry?.endpoints ?? {}) as Json);
    const got = loaded.config?.endpoints.map((e) => e.name).sort() ?? [];
    if (loaded.config && got.join() !== [...shared, ...own].sort().join())
      out.push(`${label}: node ${node} gets endpoints ${got.join(', ') || 'none'}, not ${[...shared, ...own].join(', ')}`);
  }
  return out;
}

function problems(dep: Deployment): string[] {
  return [...schemaProblems(dep), ...fieldProblems(dep), ...kustomizationProblems(dep), ...daemonSetProblems(dep), ...configProblems(dep)];
}

// --- The tests ------------------------------------------------------------------------------------

test('README.md names every file of deploy/kubernetes', () => {
  const readme = fs.readFileSync(path.join(DIR, 'README.md'), 'utf8');
  for (const f of fs.readdirSync(DIR).filter((x) => x !== 'README.md')) assert.ok(readme.includes(`\`${f}\``), `README.md names ${f}`);
});

test('every document is valid against the Kubernetes API schema, with no unknown field', () => {
  const dep = load();
  assert.equal(schemaProblems(dep), []);
  assert.equal(fieldProblems(dep), []);
});

test('the kustomization lists every file, in one namespace it makes', () => {
  assert.equal(kustomizationProblems(load()), []);
});

test('the DaemonSet: config from the ConfigMap volume, the node name, the node’s namespaces, probes, image', () => {
  assert.equal(daemonSetProblems(load()), []);
});

test('the ConfigMap holds a valid vlannet config, for every node it names', () => {
  assert.equal(configProblems(load()), []);
});

/** Break a copy of the deployment; the checks must say what is wrong. */
const BROKEN: [string, (dep: Deployment) => void, RegExp][] = [
  ['a type the schema refuses', (d) => (ds(d).spec.template.spec.containers[0].image = 42), /schema: .*image must be string/],
  [
    'a misspelt field',
    (d) => (vlannet(d).securityContext.readOnlyRootFileSystem = true),
    /securityContext\.readOnlyRootFileSystem: unknown field/,
  ],
  [
    'a misspelt field in a list of maps',
    (d) => (vlannet(d).volumeMounts[1].mountPropogation = 'Bidirectional'),
    /volumeMounts\[1\]\.mountPropogation: unknown field/,
  ],
  [
    'a kind with no model',
    (d) => d.docs.push({ file: 'extra.yaml', index: 0, data: { apiVersion: 'example.com/v1', kind: 'Widget' } }),
    /no model/,
  ],
  ['a file not in the kustomization', (d) => d.yamlFiles.push('pdb.yaml'), /pdb\.yaml is not listed in resources/],
  ['a kustomization resource that is not there', (d) => kust(d).resources.push('rbac.yaml'), /lists rbac\.yaml, which is not a file/],
  [
    'an object in another namespace',
    (d) => (doc(d, 'ConfigMap').metadata.namespace = 'default'),
    /namespace default, the kustomization's is/,
  ],
  [
    '-f outside the config volume',
    (d) => (vlannet(d).args[2] = '/etc/vlannet.yaml'),
    /-f \/etc\/vlannet\.yaml is not inside the mounted ConfigMap/,
  ],
  ['-f naming a key the ConfigMap lacks', (d) => (vlannet(d).args[2] = '/etc/vlannet/config.yaml'), /has no key config\.yaml/],
  ['a subPath on the config volume', (d) => (vlannet(d).volumeMounts[0].subPath = 'vlannet.yaml'), /subPath mount never sees/],
  [
    'NODE_NAME from elsewhere',
    (d) => (vlannet(d).env[0].valueFrom.fieldRef.fieldPath = 'metadata.name'),
    /NODE_NAME must come from fieldRef spec\.nodeName/,
  ],
  ['--host not the node name', (d) => (vlannet(d).args[4] = 'node-1'), /--host must be \$\(NODE_NAME\)/],
  ['an undefined $(VAR)', (d) => vlannet(d).env.splice(1, 1), /args use \$\(POD_IP\), which is not in env/],
  [
    '/run/netns not shared back',
    (d) => (vlannet(d).volumeMounts[1].mountPropagation = 'HostToContainer'),
    /mountPropagation HostToContainer/,
  ],
  ['Bidirectional unprivileged', (d) => (vlannet(d).securityContext.privileged = false), /allowed only in a privileged container/],
  [
    '/run/netns from the image',
    (d) => ds(d).spec.template.spec.volumes.splice(1, 1),
    /volumeMount netns names no volume|\/run\/netns must be the node's/,
  ],
  [
    '/run/vlannet elsewhere on the node',
    (d) => (ds(d).spec.template.spec.volumes[2].hostPath.path = '/var/run/vlannet'),
    /\/run\/vlannet must be/,
  ],
  ['no hostPID', (d) => (ds(d).spec.template.spec.hostPID = false), /hostPID must be true/],
  ['no hostNetwork', (d) => delete ds(d).spec.template.spec.hostNetwork, /hostNetwork must be true/],
  ['the probe on another port', (d) => (vlannet(d).args[6] = '[$(POD_IP)]:9100'), /liveness probe asks port metrics \(9464\)/],
  ['readiness not from status', (d) => (vlannet(d).readinessProbe.exec.command = ['true']), /readiness probe must be/],
  ['a selector the template lacks', (d) => (ds(d).spec.selector.matchLabels.tier = 'net'), /selector's tier=net/],
  ['maxSurge', (d) => (ds(d).spec.updateStrategy.rollingUpdate.maxSurge = 1), /maxSurge 0/],
  [
    'a toleration for one taint',
    (d) => (ds(d).spec.template.spec.tolerations[0].key = 'node-role.kubernetes.io/control-plane'),
    /tolerate every taint/,
  ],
  ['another image tag', (d) => (d.version = '0.2.0'), /expected ghcr\.io\/vlannet\/vlannet:0\.2\.0/],
  ['an invalid config', (d) => setConfig(d, (t) => t.replace('driver: macvlan', 'driver: macvlna')), /networks\.lan\.driver/],
  [
    'an endpoint outside its subnet',
    (d) => setConfig(d, (t) => t.replace('192.168.50.12', '192.168.60.12')),
    /ipv4 "192\.168\.60\.12" is outside/,
  ],
  [
    'an entry that applies to another node too',
    (d) => setConfig(d, (t) => t.replace('  node-2:\n', '  node-2:\n    match: { hostname: [node-1, node-2] }\n')),
    /node node-1 gets endpoints web1, web2, not web1/,
  ],
  ['a host key no node can have', (d) => setConfig(d, (t) => t.replace('node-2:', 'Node_2:')), /hosts\.Node_2: not a Kubernetes node name/],
];

// Loose accessors for breaking copies: the documents are plain parsed YAML.
// biome-ignore lint/suspicious/noExplicitAny: test surgery on parsed YAML
type Loose = any;
const doc = (d: Deployment, kind: string): Loose => d.docs.find((x) => x.data.kind === kind)!.data;
const ds = (d: Deployment): Loose => doc(d, 'DaemonSet');
const kust = (d: Deployment): Loose => doc(d, 'Kustomization');
const vlannet = (d: Deployment): Loose => ds(d).spec.template.spec.containers[0];
const setConfig = (d: Deployment, f: (text: string) => string) => {
  const cm = doc(d, 'ConfigMap');
  cm.data['vlannet.yaml'] = f(cm.data['vlannet.yaml']);
};

for (const [what, breakIt, expected] of BROKEN) {
  test(`a broken copy is caught: ${what}`, () => {
    const dep = load();
    assert.equal(problems(dep), [], 'the deployment as it is');
    breakIt(dep);
    const found = problems(dep);
    assert.ok(
      found.some((p) => expected.test(p)),
      `expected ${expected} among:\n${found.join('\n') || '(no problem found)'}`,
    );
  });
}

test.run();
