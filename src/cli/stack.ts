// Stack traces of internal errors name src/*.ts lines, also from the bundle bin/vlannet.js runs:
// frames in an .mjs file with a source map beside it are mapped when the error is printed.
// (Enabling source maps at start-up would cost every command ~20 ms to read maps it almost never
// needs; `node --enable-source-maps` still works, and its frames are left as they are.)

import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const FRAME = /(file:\/\/\/[^\s()]+\.mjs):(\d+):(\d+)/g;

export function mapStack(stack: string): string {
  const maps = new Map<string, SourceMap | null>();
  const mapOf = (file: string) => {
    if (!maps.has(file)) {
      try {
        maps.set(file, new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8'))));
      } catch {
        maps.set(file, null);
      }
    }
    return maps.get(file)!;
  };
  return stack.replace(FRAME, (frame: string, url: string, line: string, column: string) => {
    const file = fileURLToPath(url);
    const entry = mapOf(file)?.findEntry(Number(line) - 1, Number(column) - 1);
    if (!entry || !('originalSource' in entry) || !entry.originalSource) return frame;
    const source = entry.originalSource.startsWith('file:')
      ? fileURLToPath(entry.originalSource)
      : path.resolve(path.dirname(file), entry.originalSource);
    return `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
  });
}
