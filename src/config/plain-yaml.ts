// The plain subset of YAML that vlannet.yaml files are nearly always written in, read in one pass
// over the lines: block maps and lists, one-line flow maps (`e1: { network: n1 }`), plain words,
// decimal numbers, true/false/null, quoted strings without escapes, comments. It exists for speed (the full `yaml` parser costs ~0.1 s for
// 1000 endpoints, and ~45 ms more to import); anything outside the subset, and anything the full
// parser would warn about or reject, returns null so that the caller reads the file with `yaml`
// instead. What it accepts it reads exactly as `yaml` does (values and positions; the unit tests
// compare the two).

/** A node with what positions need: where it starts, and whether it is an empty value (`key:`). */
export interface SourceNode {
  start: number;
  empty: boolean;
  /** A map's entries by key, with the key's offset. */
  entries?: Map<string, { keyStart: number; node: SourceNode }>;
  /** A list's items. */
  items?: SourceNode[];
}

export interface PlainDocument {
  value: Record<string, unknown>;
  root: SourceNode;
  /** Offset of the start of each line. */
  lineStarts: number[];
}

// Anything that could be a control character, a byte-order mark or a line break to some YAML
// reader: the file is left to the full parser.
const UNUSUAL = /[\t\r\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]/;
const KEY = /^[A-Za-z0-9_][A-Za-z0-9_.-]*/;
const PLAIN = /^[A-Za-z0-9_./+][A-Za-z0-9_./:+-]*/;
const DOUBLE = /^"[^"\\]*"/;
const SINGLE = /^'[^']*'/;
const REST = /^ *(?:#.*)?$/;
const MAX_KEY = 1000; // yaml refuses implicit keys longer than 1024 characters

// YAML 1.2 core schema: plain scalars that are not strings (as the `yaml` package resolves them).
const NOT_STRING = [
  /^(?:~|[Nn]ull|NULL)?$/,
  /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/,
  /^0o[0-7]+$/,
  /^[-+]?[0-9]+$/,
  /^0x[0-9a-fA-F]+$/,
  /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/,
  /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/,
  /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/,
];
/** Whether yaml reads a plain word as a string. Most words start with a letter that no other type starts with: no regex needed. */
function isString(word: string): boolean {
  if (/^[A-Za-z_]/.test(word) && (word.length > 5 || !/^[nNtTfF]/.test(word))) return true;
  return !NOT_STRING.some((re) => re.test(word));
}

/** A plain word's value; undefined when it is not one this reader resolves the same as `yaml`. */
function plainValue(word: string): unknown {
  if (/^(?:0|[1-9][0-9]{0,14})$/.test(word)) return Number(word);
  if (word === 'true') return true;
  if (word === 'false') return false;
  if (word === 'null') return null;
  return isString(word) && !word.endsWith(':') ? word : undefined;
}

class NotPlain extends Error {}
const refuse = (): never => {
  throw new NotPlain();
};

interface Container {
  indent: number;
  node: SourceNode;
  /** The JS value: an object for a map, an array for a list. */
  value: Record<string, unknown> | unknown[];
}

/** An entry whose value is on the following lines (or empty). */
interface Pending {
  map: Container;
  key: string;
}

export function readPlainYaml(text: string): PlainDocument | null {
  try {
    return read(text);
  } catch (e) {
    if (e instanceof NotPlain) return null;
    throw e;
  }
}

function read(text: string): PlainDocument | null {
  if (UNUSUAL.test(text)) return null;
  const lineStarts: number[] = [];
  const stack: Container[] = [];
  let pending: Pending | null = null;
  let root: Container | null = null;

  for (let start = 0; start <= text.length; ) {
    const nl = text.indexOf('\n', start);
    const end = nl === -1 ? text.length : nl;
    if (start < text.length || nl !== -1) lineStarts.push(start);
    const line = text.slice(start, end);
    const lineStart = start;
    start = end + 1;
    if (nl === -1 && end === lineStart) break;

    let indent = 0;
    while (line.charCodeAt(indent) === 32) indent++;
    if (indent === line.length || line[indent] === '#') continue;

    const item = line[indent] === '-' && (line[indent + 1] === ' ' || indent + 1 === line.length);

    if (pending) {
      const { map, key } = pending;
      pending = null;
      if (indent > map.indent || (indent === map.indent && item)) {
        const child = open(indent, item ? [] : {}, lineStart + indent);
        attach(map, key, child.node, child.value);
        stack.push(child);
      } else {
        setEmpty(map, key);
      }
    }

    if (!root) {
      if (indent !== 0 || item) return null;
      root = open(0, {}, lineStart);
      stack.push(root);
    }
    while (stack.length > 0 && (stack.at(-1)!.indent > indent || (stack.at(-1)!.indent === indent && Array.isArray(stack.at(-1)!.value) && !item))) stack.pop();
    const top = stack.at(-1);
    if (!top || top.indent !== indent || Array.isArray(top.value) !== item) return null;

    if (!item) {
      pending = entry(top, line, indent, lineStart);
      continue;
    }
    // `- ...`: a list item, either a word or the first entry of a map
    let at = indent + 1;
    while (line.charCodeAt(at) === 32) at++;
    if (at === line.length || line[at] === '#' || line[at] === '-') return null;
    const list = top.value as unknown[];
    if (keyAt(line, at) !== null) {
      const map = open(at, {}, lineStart + at);
      list.push(map.value);
      top.node.items!.push(map.node);
      stack.push(map);
      pending = entry(map, line, at, lineStart);
    } else {
      const scalar = valueAt(line, at, lineStart);
      list.push(scalar.value);
      top.node.items!.push(scalar.node);
    }
  }
  if (!root) return null;
  if (pending) setEmpty(pending.map, pending.key);
  return { value: root.value as Record<string, unknown>, root: root.node, lineStarts };
}

function open(indent: number, value: Container['value'], start: number): Container {
  const node: SourceNode = Array.isArray(value) ? { start, empty: false, items: [] } : { start, empty: false, entries: new Map() };
  return { indent, node, value };
}

/** The key of a `key:` or `key: value` line at `at`, or null. */
function keyAt(line: string, at: number): string | null {
  const m = KEY.exec(line.slice(at));
  if (!m) return null;
  const colon = at + m[0].length;
  return line[colon] === ':' && (colon + 1 === line.length || line[colon + 1] === ' ') ? m[0] : null;
}

/** `key:` or `key: value` at `at`; returns the pending entry when the value is on the next lines. */
function entry(map: Container, line: string, at: number, lineStart: number): Pending | null {
  const key = keyAt(line, at) ?? refuse();
  if (key.length > MAX_KEY || !isString(key) || key === '__proto__' || map.node.entries!.has(key)) refuse();
  map.node.entries!.set(key, { keyStart: lineStart + at, node: { start: -1, empty: true } });
  let v = at + key.length + 1;
  while (line.charCodeAt(v) === 32) v++;
  if (v === line.length || line[v] === '#') return { map, key };
  const scalar = valueAt(line, v, lineStart);
  attach(map, key, scalar.node, scalar.value);
  return null;
}

interface Parsed {
  node: SourceNode;
  value: unknown;
  /** Where the value ends in the line. */
  end: number;
}

/** A value from `at` to the end of the line (a comment may follow after a space). */
function valueAt(line: string, at: number, lineStart: number): { node: SourceNode; value: unknown } {
  const parsed = line[at] === '{' ? flowMap(line, at, lineStart) : scalar(line, at, lineStart);
  const after = line.slice(parsed.end);
  if (after !== '' && (after[0] !== ' ' || !REST.test(after))) refuse();
  return parsed;
}

/** A word or a quoted string at `at`. */
function scalar(line: string, at: number, lineStart: number): Parsed {
  const rest = line.slice(at);
  let value: unknown;
  let m = DOUBLE.exec(rest) ?? SINGLE.exec(rest);
  if (m) value = m[0].slice(1, -1);
  else {
    m = PLAIN.exec(rest);
    if (!m) refuse();
    value = plainValue(m![0]);
    if (value === undefined) refuse();
  }
  return { node: { start: lineStart + at, empty: false }, value, end: at + m![0].length };
}

/** `{ key: value, ... }` on one line, with scalar values. */
function flowMap(line: string, at: number, lineStart: number): Parsed {
  const map = open(-1, {}, lineStart + at);
  let i = at + 1;
  const spaces = () => {
    while (line.charCodeAt(i) === 32) i++;
  };
  spaces();
  if (line[i] === '}') return { ...map, end: i + 1 };
  for (;;) {
    const m = KEY.exec(line.slice(i));
    if (!m || line[i + m[0].length] !== ':' || line[i + m[0].length + 1] !== ' ') refuse();
    const key = m![0];
    if (!isString(key) || key === '__proto__' || map.node.entries!.has(key)) refuse();
    const keyStart = lineStart + i;
    i += key.length + 1;
    spaces();
    const v = scalar(line, i, lineStart);
    map.node.entries!.set(key, { keyStart, node: v.node });
    (map.value as Record<string, unknown>)[key] = v.value;
    i = v.end;
    spaces();
    if (line[i] === '}') return { ...map, end: i + 1 };
    if (line[i] !== ',') refuse();
    i++;
    spaces();
  }
}

function attach(map: Container, key: string, node: SourceNode, value: unknown): void {
  map.node.entries!.get(key)!.node = node;
  (map.value as Record<string, unknown>)[key] = value;
}

function setEmpty(map: Container, key: string): void {
  (map.value as Record<string, unknown>)[key] = null;
}
