// glibc's malloc, tuned for a long-lived daemon (see tuneHeapForDaemon in cli/daemon.ts). Other C
// libraries (musl) lack these calls: then nothing is tuned.

import { libcLib } from '../kernel/libc.js';

/** mallopt(3) M_ARENA_MAX. */
const M_ARENA_MAX = -8;

export interface MallocTuning {
  /** At most `n` malloc arenas for all threads, from now on. */
  limitArenas(n: number): void;
  /** Return free memory at the top of the heap and free pages in every arena to the kernel. */
  trim(): void;
}

export function mallocTuning(): MallocTuning {
  try {
    const lib = libcLib();
    const mallopt = lib.func('int mallopt(int param, int value)') as (param: number, value: number) => number;
    const trim = lib.func('int malloc_trim(size_t pad)') as (pad: number) => number;
    return { limitArenas: (n) => void mallopt(M_ARENA_MAX, n), trim: () => void trim(0) };
  } catch {
    return { limitArenas: () => {}, trim: () => {} };
  }
}
