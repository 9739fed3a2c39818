/** Byte-level builders for pcap and pcapng files in either byte order, for tests. */

export interface PcapRecordSpec {
  sec?: number;
  frac?: number;
  data: Uint8Array;
  caplen?: number;
  origLen?: number;
}

export interface PcapFileSpec {
  le?: boolean;
  nano?: boolean;
  magic?: number;
  versionMajor?: number;
  versionMinor?: number;
  thiszone?: number;
  sigfigs?: number;
  snaplen?: number;
  linkField?: number;
  records?: PcapRecordSpec[];
}

export function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

export function buildPcap(spec: PcapFileSpec): Uint8Array {
  const le = spec.le ?? true;
  const head = new Uint8Array(24);
  const h = new DataView(head.buffer);
  h.setUint32(0, spec.magic ?? (spec.nano ? 0xa1b23c4d : 0xa1b2c3d4), le);
  h.setUint16(4, spec.versionMajor ?? 2, le);
  h.setUint16(6, spec.versionMinor ?? 4, le);
  h.setInt32(8, spec.thiszone ?? 0, le);
  h.setUint32(12, spec.sigfigs ?? 0, le);
  h.setUint32(16, spec.snaplen ?? 65535, le);
  h.setUint32(20, spec.linkField ?? 1, le);
  const parts: Uint8Array[] = [head];
  for (const r of spec.records ?? []) {
    const rh = new Uint8Array(16);
    const v = new DataView(rh.buffer);
    v.setUint32(0, r.sec ?? 0, le);
    v.setUint32(4, r.frac ?? 0, le);
    v.setUint32(8, r.caplen ?? r.data.byteLength, le);
    v.setUint32(12, r.origLen ?? r.data.byteLength, le);
    parts.push(rh, r.data);
  }
  return concat(parts);
}

export interface OptionSpec {
  code: number;
  value: Uint8Array;
}

function options(le: boolean, opts: OptionSpec[] | undefined): Uint8Array {
  if (opts === undefined || opts.length === 0) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  for (const o of opts) {
    const hd = new Uint8Array(4);
    const v = new DataView(hd.buffer);
    v.setUint16(0, o.code, le);
    v.setUint16(2, o.value.byteLength, le);
    parts.push(hd, o.value, new Uint8Array((4 - (o.value.byteLength % 4)) % 4));
  }
  parts.push(new Uint8Array(4));
  return concat(parts);
}

export function block(le: boolean, type: number, body: Uint8Array): Uint8Array {
  const pad = (4 - (body.byteLength % 4)) % 4;
  const total = 12 + body.byteLength + pad;
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  v.setUint32(0, type, le);
  v.setUint32(4, total, le);
  out.set(body, 8);
  v.setUint32(total - 4, total, le);
  return out;
}

export function shb(le: boolean, opts?: OptionSpec[], major = 1, minor = 0): Uint8Array {
  const fixed = new Uint8Array(16);
  const v = new DataView(fixed.buffer);
  v.setUint32(0, 0x1a2b3c4d, le);
  v.setUint16(4, major, le);
  v.setUint16(6, minor, le);
  v.setBigInt64(8, -1n, le);
  return block(le, 0x0a0d0d0a, concat([fixed, options(le, opts)]));
}

export function idb(le: boolean, linkType: number, snaplen: number, opts?: OptionSpec[]): Uint8Array {
  const fixed = new Uint8Array(8);
  const v = new DataView(fixed.buffer);
  v.setUint16(0, linkType, le);
  v.setUint32(4, snaplen, le);
  return block(le, 1, concat([fixed, options(le, opts)]));
}

export function epb(
  le: boolean,
  ifaceId: number,
  tsHigh: number,
  tsLow: number,
  data: Uint8Array,
  origLen = data.byteLength,
  opts?: OptionSpec[],
): Uint8Array {
  const fixed = new Uint8Array(20);
  const v = new DataView(fixed.buffer);
  v.setUint32(0, ifaceId, le);
  v.setUint32(4, tsHigh, le);
  v.setUint32(8, tsLow, le);
  v.setUint32(12, data.byteLength, le);
  v.setUint32(16, origLen, le);
  const pad = new Uint8Array((4 - (data.byteLength % 4)) % 4);
  return block(le, 6, concat([fixed, data, pad, options(le, opts)]));
}

export function pb(le: boolean, ifaceId: number, tsHigh: number, tsLow: number, data: Uint8Array, origLen = data.byteLength): Uint8Array {
  const fixed = new Uint8Array(20);
  const v = new DataView(fixed.buffer);
  v.setUint16(0, ifaceId, le);
  v.setUint16(2, 0, le);
  v.setUint32(4, tsHigh, le);
  v.setUint32(8, tsLow, le);
  v.setUint32(12, data.byteLength, le);
  v.setUint32(16, origLen, le);
  return block(le, 2, concat([fixed, data]));
}

export function spb(le: boolean, data: Uint8Array, origLen = data.byteLength): Uint8Array {
  const fixed = new Uint8Array(4);
  new DataView(fixed.buffer).setUint32(0, origLen, le);
  return block(le, 3, concat([fixed, data]));
}

export function u8(...bytes: number[]): Uint8Array {
  return Uint8Array.from(bytes);
}

export function u64(value: bigint, le: boolean): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigInt64(0, value, le);
  return out;
}

export function text(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

export function frameOf(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (seed + i * 31) & 0xff;
  return out;
}
