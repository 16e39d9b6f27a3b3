// Flag parsing for every command: node:util parseArgs, with mistakes reported as usage errors.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';

export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

export const DEFAULT_CONFIG = '/etc/vlannet.yaml';

/** The options most commands share. */
export const FILE_FLAG = { file: { type: 'string', short: 'f', default: DEFAULT_CONFIG } } as const;
export const JSON_FLAG = { json: { type: 'boolean', default: false } } as const;
