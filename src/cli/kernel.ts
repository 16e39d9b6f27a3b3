// The CLI's way to the live kernel: the rtnetlink adapter, in vlannet's own namespace.
import type { Kernel } from '../model/types.js';
import { NetlinkKernel } from '../kernel/rtnetlink.js';

export async function openKernel(): Promise<Kernel> {
  return new NetlinkKernel();
}
