// `yaml` and `zod` are loaded on first use, not on import: a file in the plain subset of YAML that
// passes the committed JSON Schema needs neither, and together they cost ~0.12 s to load, a quarter
// of the budget of a whole `vlannet plan`. require() keeps loading synchronous, so loadConfig stays
// a plain function; every module of src/config gets both from here, so there is one instance of
// each (zod's registry of descriptions must be the one the schema was built with).

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The module, required on the first call (require() resolves the path again on every call). */
function once<T>(name: string): () => T {
  let module: T | undefined;
  return () => (module ??= require(name) as T);
}

export const yamlLib = once<typeof import('yaml')>('yaml');
export const zodLib = once<typeof import('zod')>('zod');
