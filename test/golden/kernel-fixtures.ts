import { readFileSync } from 'node:fs';
import { openCapture } from '../../src/pcap/open-capture.ts';
import type { CaptureReader } from '../../src/pcap/capture-reader.ts';
import type { CaptureRecord } from '../../src/pcap/capture-record.ts';

export const FIXTURE_DIR = new URL('../fixtures/pcap/', import.meta.url);
export const KERNEL_FIXTURES = ['tcp-http', 'udp', 'icmp', 'arp', 'vlan'] as const;
/** The IPv6 captures (`scripts/capture-fixtures-ipv6.sh`). */
export const KERNEL_FIXTURES_IPV6 = ['tcp-http-ipv6', 'udp-ipv6', 'icmpv6-echo', 'icmpv6-error', 'ndp'] as const;

export type OracleFrame = Record<string, string[]>;

export interface KernelFixture {
  name: string;
  reader: CaptureReader;
  records: CaptureRecord[];
  oracle: OracleFrame[];
}

export function loadKernelFixture(name: string): KernelFixture {
  const bytes = readFileSync(new URL(`${name}.pcap`, FIXTURE_DIR));
  const reader = openCapture(bytes);
  const records = [...reader];
  const oracle = JSON.parse(readFileSync(new URL(`${name}.oracle.json`, FIXTURE_DIR), 'utf8')).frames as OracleFrame[];
  return { name, reader, records, oracle };
}

export function copyFrame(rec: CaptureRecord): DataView {
  const copy = new Uint8Array(rec.data);
  return new DataView(copy.buffer);
}
