import type { VxlanPortSettings } from '../../../src/dataplane/ports/vxlan-port-config.ts';
import type { Lab, Subnet30 } from '../../../src/netlab/lab.ts';
import { parseVxlanPortConfig } from '../../../src/ports/vxlan.ts';

/** The clients' side: VNI 100, subnets 198.18.1.0/24 and 2001:db8:1::/64, the chain's gateway at .1 / ::1. */
export const CLIENT_SIDE = { peer: 'client', vni: 100, subnet: '198.18.1.0/24', gateway: '198.18.1.1', subnet6: '2001:db8:1::/64', gateway6: '2001:db8:1::1' } as const;
/** The servers' side: VNI 200, subnets 198.18.2.0/24 and 2001:db8:2::/64, the chain's gateway at .1 / ::1. */
export const SERVER_SIDE = { peer: 'server', vni: 200, subnet: '198.18.2.0/24', gateway: '198.18.2.1', subnet6: '2001:db8:2::/64', gateway6: '2001:db8:2::1' } as const;

/** The chain's VXLAN port settings for one side: listening on the underlay's host end, its peer the namespace's VTEP; IPv6 too with `dualStack`. */
function sideSettings(side: typeof CLIENT_SIDE | typeof SERVER_SIDE, underlay: Subnet30, dualStack: boolean): VxlanPortSettings {
  const v6 = (v4: string, six: string) => (dualStack ? [v4, six] : [v4]);
  return parseVxlanPortConfig({
    listen: { address: underlay.a },
    gateway: { addresses: v6(`${side.gateway}/24`, `${side.gateway6}/64`) },
    peers: [{ name: side.peer, vni: side.vni, remote: underlay.b, subnets: v6(side.subnet, side.subnet6) }],
  });
}

/**
 * The two-sided lab the VXLAN e2e tests share: a client and a server namespace, each
 * reached from the host over its own /30 underlay (`a` on the host, where the chain's end
 * listens; `b` in the namespace, its VTEP).
 */
export interface VxlanSides {
  readonly client: string;
  readonly server: string;
  /** The clients' underlay. */
  readonly inside: Subnet30;
  /** The servers' underlay. */
  readonly outside: Subnet30;
  /**
   * Adds each namespace's VXLAN device toward the chain's end (`insidePort`/`outsidePort`,
   * default 4789) with `clientIp`/24 and `serverIp`/24, and routes each side to the other's
   * subnet through the chain's gateway. Resolves with the two devices' names.
   */
  attach(o: { clientIp: string; serverIp: string; insidePort?: number; outsidePort?: number }): Promise<{ clientDev: string; serverDev: string }>;
  /** The settings of the chain's two VXLAN ports for this lab (IPv6 too with `dualStack`). */
  settings(dualStack?: boolean): { inside: VxlanPortSettings; outside: VxlanPortSettings };
}

/** Creates the namespaces and underlays of `VxlanSides` in `lab` (removed with it). */
export async function vxlanSides(lab: Lab): Promise<VxlanSides> {
  const client = await lab.namespace('client');
  const server = await lab.namespace('server');
  const inside = await lab.underlay30();
  const cv = await lab.veth({ ns: null, address: inside.cidrA }, { ns: client, address: inside.cidrB });
  const outside = await lab.underlay30();
  const sv = await lab.veth({ ns: null, address: outside.cidrA }, { ns: server, address: outside.cidrB });
  return {
    client,
    server,
    inside,
    outside,
    async attach({ clientIp, serverIp, insidePort = 4789, outsidePort = 4789 }) {
      const clientDev = await lab.vxlan({ ns: client, vni: CLIENT_SIDE.vni, dev: cv.b, local: inside.b, remote: inside.a, remotePort: insidePort, address: `${clientIp}/24` });
      const serverDev = await lab.vxlan({ ns: server, vni: SERVER_SIDE.vni, dev: sv.b, local: outside.b, remote: outside.a, remotePort: outsidePort, address: `${serverIp}/24` });
      await lab.route(client, SERVER_SIDE.subnet, CLIENT_SIDE.gateway);
      await lab.route(server, CLIENT_SIDE.subnet, SERVER_SIDE.gateway);
      return { clientDev, serverDev };
    },
    settings: (dualStack = false) => ({ inside: sideSettings(CLIENT_SIDE, inside, dualStack), outside: sideSettings(SERVER_SIDE, outside, dualStack) }),
  };
}
