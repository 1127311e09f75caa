// The CNI config of the real test node's pod network (issue 15): one bridge, host-local addresses, port mappings.
import { POD_CIDR } from "./layout.js";

/**
 * Pods get an address from POD_CIDR on the bridge `cni0`, whose gateway address is the
 * namespace's own; the default route in each pod leads there and no further, since the
 * namespace has no route out. No masquerading: there is nowhere to masquerade to.
 */
export function podNetworkConfig(ipamDir: string): string {
  return `${JSON.stringify(
    {
      cniVersion: "1.0.0",
      name: "runlet-pods",
      plugins: [
        {
          type: "bridge",
          bridge: "cni0",
          isGateway: true,
          ipMasq: false,
          // A pod reaching itself through its Service comes back over the same bridge port.
          hairpinMode: true,
          ipam: {
            type: "host-local",
            dataDir: ipamDir,
            ranges: [[{ subnet: POD_CIDR }]],
            routes: [{ dst: "0.0.0.0/0" }],
          },
        },
        { type: "portmap", capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  )}\n`;
}
