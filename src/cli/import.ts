// `vlannet import docker [FILE...]`: reads the JSON Docker prints (files, or standard input), hands
// it to the pure conversion (src/import/docker.ts) and writes the vlannet.yaml it makes to standard
// output or -o FILE; what was skipped goes to standard error as notes.

import fs from 'node:fs';
import { unreadable } from '../config/unreadable.js';
import { UsageError } from '../errors.js';
import { importDocker, type JsonSource } from '../import/docker.js';
import type { ImportOptions } from './program.js';

const STDIN = '-';

export async function importCommand(source: string, files: string[], o: ImportOptions): Promise<number> {
  if (source !== 'docker') throw new UsageError(`import ${source}: unknown source, expected docker`);
  const networkFiles = files.length ? files : [STDIN];
  const containerFiles = o.containers ?? [];
  if ([...networkFiles, ...containerFiles].filter((f) => f === STDIN).length > 1)
    throw new UsageError('standard input (-) can be read only once: name the other inputs as files');
  if (networkFiles.includes(STDIN) && process.stdin.isTTY)
    throw new UsageError('no FILE given and standard input is a terminal: name the output of `docker network inspect` or pipe it in');
  const result = importDocker(
    networkFiles.map((f) => readJson(f, '`docker network inspect`')),
    containerFiles.map((f) => readJson(f, '`docker inspect`')),
    { keepMacs: o.keepMacs === true },
  );
  if (o.output && o.output !== STDIN) {
    try {
      fs.writeFileSync(o.output, result.yaml);
    } catch (e) {
      throw new UsageError(`cannot write ${o.output}: ${unreadable(e as NodeJS.ErrnoException)}`);
    }
  } else process.stdout.write(result.yaml);
  for (const note of result.notes) process.stderr.write(`note: ${note}\n`);
  return 0;
}

/** A file (or standard input) as JSON; what is not JSON is one line naming the file. */
function readJson(file: string, what: string): JsonSource {
  const name = file === STDIN ? 'standard input' : file;
  let text: string;
  try {
    text = fs.readFileSync(file === STDIN ? 0 : file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${name}: ${unreadable(e as NodeJS.ErrnoException)}`);
  }
  try {
    return { name, json: JSON.parse(text) };
  } catch (e) {
    const why = text.trim() === '' ? 'it is empty' : (e as Error).message.split('\n')[0];
    throw new UsageError(`${name}: not JSON (${why}): expected the JSON output of ${what}`);
  }
}
