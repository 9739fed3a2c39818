import { prefixMask, type Cidr } from '../../../src/config/net-schemas.ts';
import type { GatewayWire } from '../../../src/gateway/gateway-edge.ts';
import { parseIpv4 } from '../../../src/packet/ipv4.ts';

export const ip = (s: string): number => parseIpv4(s) as number;

export function cidr(text: string): Cidr {
  const [a, p] = text.split('/');
  const prefix = Number(p);
  const mask = prefixMask(prefix);
  return { addr: (ip(a) & mask) >>> 0, prefix, mask };
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

export class RecordingWire implements GatewayWire {
  readonly emitted: Array<{ peer: number; frame: Uint8Array }> = [];
  readonly released: number[] = [];
  readonly discarded: number[] = [];
  onRelease: ((handle: number) => void) | null = null;

  emit(peer: number, frame: Uint8Array, length: number): void {
    this.emitted.push({ peer, frame: frame.slice(0, length) });
  }

  release(handle: number): void {
    this.released.push(handle);
    this.onRelease?.(handle);
  }

  discard(handle: number): void {
    this.discarded.push(handle);
  }
}

/**
 * The VXLAN port config the loopback port tests share: a gateway for 198.18.1.0/24 (peer
 * `client`, VNI 100) and 198.18.2.0/24 (peer `server`, VNI 200), both peers on 127.0.0.1 at
 * the given UDP ports.
 */
export function loopbackVxlanConfig(clientPort: number, serverPort: number, receiveBufferBytes = 1 << 20) {
  return {
    listen: { address: '127.0.0.1' },
    gateway: { addresses: ['198.18.1.1/24', '198.18.2.1/24'] },
    peers: [
      { name: 'client', vni: 100, remote: '127.0.0.1', port: clientPort, subnets: ['198.18.1.0/24'] },
      { name: 'server', vni: 200, remote: '127.0.0.1', port: serverPort, subnets: ['198.18.2.0/24'] },
    ],
    receiveBufferBytes,
  };
}
