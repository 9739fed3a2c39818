import { describe, expect, it } from 'vitest';
import {
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_SIZE,
  emptyVirtioNetHeader,
  readVirtioNetHeader,
  writeVirtioNetHeader,
  writeVirtioNetHeaderEmpty,
} from '../../../src/virtio/virtio-net-header.ts';

describe('virtio_net_hdr', () => {
  it('is 12 bytes, little-endian, fields in spec order', () => {
    expect(VIRTIO_NET_HDR_SIZE).toBe(12);
    const buf = new Uint8Array(20).fill(0xee);
    const view = new DataView(buf.buffer);
    writeVirtioNetHeader(view, 4, {
      flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
      gsoType: VIRTIO_NET_HDR_GSO_TCPV4,
      hdrLen: 0x0136,
      gsoSize: 0x05a8,
      csumStart: 0x0022,
      csumOffset: 0x0010,
      numBuffers: 0x0102,
    });
    expect([...buf]).toEqual([0xee, 0xee, 0xee, 0xee, 1, 1, 0x36, 0x01, 0xa8, 0x05, 0x22, 0x00, 0x10, 0x00, 0x02, 0x01, 0xee, 0xee, 0xee, 0xee]);
    const h = readVirtioNetHeader(view, 4, emptyVirtioNetHeader());
    expect(h).toEqual({ flags: 1, gsoType: 1, hdrLen: 0x136, gsoSize: 0x5a8, csumStart: 0x22, csumOffset: 0x10, numBuffers: 0x102 });
  });

  it('writes an empty header with num_buffers and touches nothing around it', () => {
    const buf = new Uint8Array(16).fill(0xaa);
    writeVirtioNetHeaderEmpty(new DataView(buf.buffer), 2, 1);
    expect([...buf]).toEqual([0xaa, 0xaa, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0xaa, 0xaa]);
  });
});
