import { buildFrame, type FrameSpec } from '../../../src/packet/frame-builder.ts';
import { buildIpv6Frame, type Ipv6FrameSpec } from '../../../src/packet/ipv6-frame-builder.ts';

export function hex(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function frame(spec: FrameSpec): Uint8Array {
  const view = new DataView(new ArrayBuffer(4096));
  const n = buildFrame(view, 0, spec);
  return new Uint8Array(view.buffer, 0, n).slice();
}

export function frame6(spec: Ipv6FrameSpec): Uint8Array {
  const view = new DataView(new ArrayBuffer(4096));
  const n = buildIpv6Frame(view, 0, spec);
  return new Uint8Array(view.buffer, 0, n).slice();
}

/** An IPv6 frame built from `spec`, then edited (`l3` = offset of the IPv6 header in the frame). */
export function mutated6(spec: Ipv6FrameSpec, edit: (v: DataView, l3: number) => void): Uint8Array {
  const bytes = frame6(spec);
  edit(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 14 + 4 * (spec.vlanIds?.length ?? 0));
  return bytes;
}

export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Places `bytes` at `offset` inside a larger buffer filled with `fill` and returns the view over all of it. */
export function placed(bytes: Uint8Array, offset: number, fill = 0x45, total = offset + bytes.length + 256): DataView {
  const mem = new Uint8Array(total).fill(fill);
  mem.set(bytes, offset);
  return new DataView(mem.buffer);
}

export function reference16(bytes: Uint8Array, start: number, length: number, initial = 0): number {
  let sum = initial;
  for (let i = 0; i < length; i += 2) {
    const hi = bytes[start + i];
    const lo = i + 1 < length ? bytes[start + i + 1] : 0;
    sum += (hi << 8) | lo;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}
