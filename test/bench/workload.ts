// The work both contenders do: N endpoints, each in its own named namespace on one macvlan bridge
// network over the sandbox's eth0, with one IPv4 address and a default route. Endpoint i (from 1)
// is `e0001`…, in namespace `e0001`, and is expected at 10.64.0.(i+1) when addresses are handed out
// lowest-free after the gateway 10.64.0.1 (the iproute2 script assigns exactly those).

import { Address4 } from 'ip-address';

export const SUBNET = '10.64.0.0/16';
export const PREFIX = 16;
export const GATEWAY = '10.64.0.1';
export const PARENT = 'eth0';
export const IFNAME = 'eth0';

export function endpointName(i: number): string {
  return `e${String(i).padStart(4, '0')}`;
}

/** The address handed out i-th (from 1): the gateway's successor's (i-1)-th successor. */
export function nthAddress(i: number): string {
  const base = new Address4(SUBNET).startAddress().bigInt();
  return Address4.fromBigInt(base + 1n + BigInt(i)).correctForm();
}

/** vlannet.yaml for the endpoints numbered `ids`; addresses are left to vlannet (automatic). */
export function configYaml(ids: number[]): string {
  const lines = [
    'version: 1',
    'networks:',
    '  bench:',
    '    driver: macvlan',
    `    parent: ${PARENT}`,
    '    mode: bridge',
    '    subnets:',
    `      - subnet: ${SUBNET}`,
    `        gateway: ${GATEWAY}`,
    'endpoints:',
  ];
  for (const i of ids) lines.push(`  ${endpointName(i)}:`, '    network: bench');
  return `${lines.join('\n')}\n`;
}

/**
 * The best iproute2 script we know (see README.md, Performance): one `ip -batch` for every `netns add`,
 * one `ip -batch` creating every link directly in its namespace, then one `ip -n NS -batch` per
 * namespace for loopback up, address, link up and default route (the same kernel work as vlannet,
 * which also brings each namespace's loopback up).
 */
export function iproute2Script(ids: number[]): string {
  const netns = ids.map((i) => `netns add ${endpointName(i)}`).join('\n');
  const links = ids.map((i) => `link add link ${PARENT} name ${IFNAME} netns ${endpointName(i)} type macvlan mode bridge`).join('\n');
  const perNs = ids.map((i) => {
    const batch = [
      'link set lo up',
      `addr add ${nthAddress(i)}/${PREFIX} dev ${IFNAME}`,
      `link set ${IFNAME} up`,
      `route add default via ${GATEWAY} dev ${IFNAME}`,
    ];
    return `ip -n ${endpointName(i)} -batch - <<< $'${batch.join('\\n')}'`;
  });
  return ['set -e', `ip -batch - <<'EOF'\n${netns}\nEOF`, `ip -batch - <<'EOF'\n${links}\nEOF`, ...perNs, ''].join('\n');
}

/** `ip netns del` of the same namespaces, batched. */
export function iproute2DeleteScript(ids: number[]): string {
  return ['set -e', `ip -batch - <<'EOF'\n${ids.map((i) => `netns del ${endpointName(i)}`).join('\n')}\nEOF`, ''].join('\n');
}
