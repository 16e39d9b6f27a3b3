// Small helpers shared by the config, the rules and the planner.

/** Group by a key, keeping the order items came in. Linear, so indexes over thousands of objects stay cheap. */
export function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = keyOf(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

/** `value` when it is one of `words`, else `fallback`. */
export function oneOf<W extends string>(words: readonly W[], value: string | null | undefined, fallback: W): W {
  return words.includes(value as W) ? (value as W) : fallback;
}
