// From a YAML path (['networks', 'macnet50', 'subnets', 0, 'gateway']) to where a person finds it
// in the file ("FILE:LINE:COL") and how they would write it (`networks.macnet50.subnets[0].gateway`).

import { isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node, type Pair } from 'yaml';

export type YamlPath = ReadonlyArray<string | number>;

export function pathText(path: YamlPath): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  return out;
}

/** A change of path: an object of a `hosts:` entry is found where it is written, under `hosts.ENTRY`. */
export type PathMove = (path: YamlPath) => YamlPath;

export class Locator {
  /** Pairs of each map by key text, built on first use: lookups stay O(1) in files with thousands of entries. */
  private readonly index: WeakMap<object, Map<string, Pair>>;

  constructor(
    private readonly doc: Document | null,
    private readonly lines: LineCounter,
    readonly file: string,
    private readonly move: PathMove | null = null,
    index?: WeakMap<object, Map<string, Pair>>,
  ) {
    this.index = index ?? new WeakMap();
  }

  /**
   * The same file, where each path is first moved by `move`: the rules and normalise speak of
   * `endpoints.web1`, which an entry of `hosts:` writes at `hosts.web-1.endpoints.web1`.
   */
  moved(move: PathMove): Locator {
    return new Locator(this.doc, this.lines, this.file, move, this.index);
  }

  /** Where the object at `path` is written (`path` itself unless moved). */
  real(path: YamlPath): YamlPath {
    return this.move ? this.move(path) : path;
  }

  /** The written path as text: `hosts.web-1.endpoints.web1.ipv4`. */
  path(path: YamlPath): string {
    return pathText(this.real(path));
  }

  /** Position of an offset in the text. */
  offset(offset: number): string {
    const { line, col } = this.lines.linePos(offset);
    return `${this.file}:${line}:${col}`;
  }

  /**
   * Where the node at `path` is: its value, or its key when `key` is set (unknown keys) or when the
   * value is empty. A path that does not exist points at the deepest part of it that does.
   */
  at(written: YamlPath, key = false): string {
    const path = this.real(written);
    let node: unknown = this.doc?.contents ?? null;
    let pair: Pair | null = null;
    for (const seg of path) {
      if (isMap(node)) {
        const found = this.pairs(node.items).get(String(seg));
        if (!found) return this.place(pair, node as Node, true);
        pair = found;
        node = found.value;
      } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
        pair = null;
        node = node.items[seg];
      } else {
        return this.place(pair, node as Node | null, true);
      }
    }
    return this.place(pair, node as Node | null, key);
  }

  private pairs(items: readonly unknown[]): Map<string, Pair> {
    let pairs = this.index.get(items);
    if (!pairs) {
      pairs = new Map();
      for (const p of items) if (isPair(p)) pairs.set(String(isScalar(p.key) ? p.key.value : p.key), p);
      this.index.set(items, pairs);
    }
    return pairs;
  }

  private place(pair: Pair | null, node: Node | null, preferKey: boolean): string {
    const keyNode = pair && (pair.key as Node | null);
    const empty = !node?.range || (isScalar(node) && node.value === null && node.range[0] === node.range[1]);
    if (keyNode?.range && (preferKey || empty)) return this.offset(keyNode.range[0]);
    if (node?.range) return this.offset(node.range[0]);
    return this.doc ? `${this.file}:1:1` : this.file;
  }
}
