// The CLI's way to the live kernel: the rtnetlink adapter, in vlannet's own namespace. Loaded on
// first use so that `validate` and offline `plan --observed` never load netlink or koffi.
import type { Kernel } from '../model/types.js';

export async function openKernel(): Promise<Kernel> {
  const { NetlinkKernel } = await import('../kernel/rtnetlink.js');
  return new NetlinkKernel();
}
