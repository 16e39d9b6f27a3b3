// Duplicate keys in one pass over the document. The yaml package's own check (uniqueKeys) compares
// each key with every key before it in its map, quadratic in a 1000-endpoint `endpoints:` map, so
// load.ts parses with it off and asks here instead: each map's keys go into a hash map once.

import { isMap, isPair, isScalar, isSeq, type Document, type Node, type Pair } from 'yaml';
import type { YamlPath } from './locate.js';

export interface DuplicateKey {
  /** The later key node (where the error is reported). */
  key: Node;
  /** The earlier key node with the same value. */
  first: Node;
  /** YAML path of the later key. */
  path: YamlPath;
  /** The key's value as a scalar, for the message. */
  value: unknown;
}

/**
 * Every key that repeats an earlier key of the same map, in document order. Keys are equal as the
 * yaml package compares them: scalars with the same resolved value (so `1` and `"1"` differ);
 * collection and alias keys are never equal to another key.
 */
export function duplicateKeys(doc: Document): DuplicateKey[] {
  const found: DuplicateKey[] = [];
  walk(doc.contents, [], found);
  return found;
}

function walk(node: unknown, path: Array<string | number>, found: DuplicateKey[]): void {
  if (isMap(node)) {
    const seen = new Map<unknown, Node>();
    for (const pair of node.items as Pair[]) {
      if (!isPair(pair)) continue;
      const key = pair.key as Node | null;
      const seg = isScalar(key) ? String(key.value) : String(key);
      if (isScalar(key)) {
        const first = seen.get(key.value);
        if (first) found.push({ key, first, path: [...path, seg], value: key.value });
        else seen.set(key.value, key);
      } else if (key) {
        walk(key, [...path, seg], found);
      }
      path.push(seg);
      walk(pair.value, path, found);
      path.pop();
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      path.push(i);
      walk(item, path, found);
      path.pop();
    });
  }
}
