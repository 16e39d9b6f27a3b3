// The CLI's way to the live kernel: the rtnetlink adapter, in vlannet's own namespace. Loaded on
// first use so that `validate` and offline `plan --observed` never load netlink or koffi.
import type { Kernel } from '../model/types.js';

/**
 * `longLived`: the daemon, which observes again and again and keeps a listener per namespace to
 * re-read only what changed; a one-shot command reads each namespace once and is faster without.
 */
export async function openKernel(longLived = false): Promise<Kernel> {
  const { NetlinkKernel } = await import('./rtnetlink.js');
  return new NetlinkKernel({ listen: longLived });
}
