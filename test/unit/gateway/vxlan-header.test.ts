import { describe, expect, it } from 'vitest';
import { readVxlanVni, VXLAN_FLAG_I, VxlanHeaderError, writeVxlanHeader } from '../../../src/dataplane/ports/vxlan-header.ts';
import { parseVxlanPortConfig } from '../../../src/ports/vxlan.ts';
import { portSpecSchema } from '../../../src/spec/port-spec.ts';
import { readUdpRcvbufErrors, readUdpSocketDrops } from '../../../src/dataplane/ports/udp-socket-drops.ts';
import { ConfigValidationError } from '../../../src/errors/catalog.ts';
import { hex, ip } from './support.ts';

describe('VXLAN header (RFC 7348)', () => {
  it('writes the I flag, zero reserved fields and a 24-bit VNI', () => {
    const b = new Uint8Array(10).fill(0xee);
    writeVxlanHeader(b, 1, 0xabcdef);
    expect(hex(b)).toBe('ee' + '08000000' + 'abcdef00' + 'ee');
    writeVxlanHeader(b, 1, 0x1abcdef);
    expect(readVxlanVni(b, 1, 9)).toBe(0xabcdef);
  });

  it('reads the VNI back for every width, ignores reserved bits, refuses a clear I flag and runts', () => {
    const b = new Uint8Array(8);
    for (const vni of [0, 1, 100, 0x00ff00, 0xffffff]) {
      writeVxlanHeader(b, 0, vni);
      expect(readVxlanVni(b, 0, 8)).toBe(vni);
    }
    b.set([VXLAN_FLAG_I | 0xf7, 0xff, 0xff, 0xff, 0, 0, 100, 0xff]);
    expect(readVxlanVni(b, 0, 8)).toBe(100);
    b[0] = 0xf7;
    expect(readVxlanVni(b, 0, 8)).toBe(VxlanHeaderError.BAD_FLAGS);
    expect(readVxlanVni(b, 0, 7)).toBe(VxlanHeaderError.RUNT);
  });
});

describe('VXLAN port config', () => {
  const base = {
    listen: { address: '198.19.0.1' },
    gateway: { addresses: ['198.18.1.1/24', '198.18.1.10'] },
    peers: [{ name: 'client', vni: 100, remote: '198.19.0.2', subnets: ['198.18.1.0/24'] }],
  };

  it('resolves defaults: peer port 4789, MAC 02:00:<interface address>, 4 MiB receive buffer', () => {
    const s = parseVxlanPortConfig(base);
    expect(s.peers[0].port).toBe(4789);
    expect(s.mac).toEqual([0x0200, ip('198.18.1.1')]);
    expect(s.addresses.map((a) => [a.address, a.prefix])).toEqual([[ip('198.18.1.1'), 24], [ip('198.18.1.10'), 32]]);
    expect(s.receiveBufferBytes).toBe(4 * 1024 * 1024);
    expect(parseVxlanPortConfig({ ...base, gateway: { ...base.gateway, mac: '02:aa:bb:cc:dd:ee' } }).mac).toEqual([0x02aa, 0xbbccddee]);
  });

  it('reports every problem at once with its field path', () => {
    const bad = {
      listen: { address: '198.19.0.300', port: 70000 },
      gateway: { addresses: ['198.18.1.1/33'], mac: 'nope' },
      peers: [
        { name: 'a', vni: 1 << 24, remote: '198.19.0.2', subnets: ['198.18.1.0/24'] },
        { name: 'a', vni: 5, remote: '198.19.0.3', subnets: [] },
        { name: 'b', vni: 5, remote: '198.19.0.4', subnets: ['198.18.2.0/24'] },
      ],
    };
    let err: unknown;
    try {
      parseVxlanPortConfig(bad);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigValidationError);
    const paths = (err as ConfigValidationError).issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['listen.address', 'listen.port', 'gateway.addresses[0]', 'gateway.mac', 'peers[0].vni', 'peers[1].subnets']));
    expect(paths).toEqual(expect.arrayContaining(['peers[2].vni', 'peers[1].name']));
    expect(() => parseVxlanPortConfig({ ...base, peers: [...base.peers, { ...base.peers[0], name: 'again' }] })).toThrow(/VNI 100 is already used by peers\[0\]/);
    expect(() => parseVxlanPortConfig({ ...base, listen: { address: '198.19.0.1', port: 0 } })).toThrow(/listen\.port: port must be 1-65535/);
  });

  it('resolves allowedSources and a peer sourcePort (default: peers only, any source port)', () => {
    expect(parseVxlanPortConfig(base)).toMatchObject({ allowedSources: [], peers: [{ sourcePort: 0 }] });
    const s = parseVxlanPortConfig({ ...base, allowedSources: ['198.18.0.0/15'], peers: [{ ...base.peers[0], sourcePort: 4789 }] });
    expect(s.allowedSources).toEqual([{ addr: ip('198.18.0.0'), prefix: 15, mask: 0xfffe0000 }]);
    expect(s.peers[0].sourcePort).toBe(4789);
    expect(() => parseVxlanPortConfig({ ...base, allowedSources: ['198.18.0.0/33'] })).toThrow(/allowedSources\[0\]/);
  });

  it('is the schema the chain spec uses for a vxlan port (one definition)', () => {
    const spec = portSpecSchema.safeParse({ type: 'vxlan', ...base, allowedSources: ['nope'], peers: [{ ...base.peers[0], vni: 0 }] });
    expect(spec.success).toBe(false);
    expect(spec.error?.issues.map((i) => i.path.join('.'))).toEqual(expect.arrayContaining(['allowedSources.0', 'peers.0.vni']));
    expect(() => parseVxlanPortConfig({ ...base, peers: [{ ...base.peers[0], vni: 0 }] })).toThrow(/vni must be 1-16777215/);
  });
});

describe('kernel UDP drop counters', () => {
  it('reads the per-socket drops column of /proc/net/udp and RcvbufErrors of /proc/net/snmp', () => {
    const udp = [
      '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops',
      '  112: 010013C6:12B5 00000000:0000 07 00000000 00000000 00:00000000 00000000     0        0 40112 2 0000000000000000 17',
      '  113: 010013C6:12B6 00000000:0000 07 00000000 00000000 00:00000000 00000000     0        0 40113 2 0000000000000000 0',
    ].join('\n');
    expect(readUdpSocketDrops('198.19.0.1', 4789, udp)).toBe(17);
    expect(readUdpSocketDrops('198.19.0.1', 4790, udp)).toBe(0);
    expect(readUdpSocketDrops('198.19.0.2', 4789, udp)).toBeUndefined();
    const snmp = 'Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\nUdp: 10 0 3 9 3 0\n';
    expect(readUdpRcvbufErrors(snmp)).toBe(3);
  });
});
