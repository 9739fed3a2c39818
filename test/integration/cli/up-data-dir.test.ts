import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IpProto } from '../../../src/packet/ipv4.ts';
import { openCapture } from '../../../src/pcap/open-capture.ts';
import { PcapWriter } from '../../../src/pcap/pcap-writer.ts';
import { buildFrame } from '../../../src/traffic/frame-builder.ts';
import { runCaptured } from '../../unit/cli/run-captured.ts';

const dir = mkdtempSync(join(tmpdir(), 'nfvkit-up-data-'));
const data = join(dir, 'data');
const secret = join(dir, 'outside-shadow');
writeFileSync(secret, 'root:$6$salt$hash:19000:0:99999:7:::\n');
mkdirSync(join(data, 'read'), { recursive: true });
const w = new PcapWriter();
for (let i = 0; i < 40; i++) w.write(buildFrame({ proto: IpProto.UDP, srcIp: 0xc6120100 + i, dstIp: 0xc6130001, srcPort: 20000 + i, dstPort: 53, payloadLength: 10 }), 1_700_000_000 + i, 0);
writeFileSync(join(data, 'read', 'in.pcap'), w.bytes());
symlinkSync(secret, join(data, 'read', 'shadow.pcap'));

function specFile(name: string, ingress: string, egress: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `apiVersion: nfvkit.dev/v1
kind: ServiceFunctionChain
metadata: { name: ${name} }
spec:
  ingress: ${ingress}
  egress: ${egress}
  functions:
    - name: hop
      function: pass-through
`,
  );
  return file;
}

const base = ['--listen', '127.0.0.1:0', '--no-metrics', '--no-top', '--warm', '0', '--drain', '100', '--store', join(dir, 'store'), '--data-dir', data];

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('nfvkit up --data-dir: spec file paths resolve in the data directory only', () => {
  it('validate rejects absolute and escaping paths with file:line:column (exit 2)', async () => {
    const file = specFile('hostile', `{ type: pcap, read: ${secret} }`, '{ type: pcap, write: ../../x.pcap }');
    const r = await runCaptured(['validate', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}:5:32 spec.ingress.read: "${secret}": absolute paths are refused`);
    expect(r.stderr).toContain(`${file}:6:32 spec.egress.write: "../../x.pcap": \`..\` is refused`);
  });

  it('replays <data-dir>/read/in.pcap and writes <data-dir>/write/runs/out.pcap', async () => {
    const file = specFile('replay', '{ type: pcap, read: in.pcap }', '{ type: pcap, write: runs/out.pcap }');
    const r = await runCaptured(['up', file, ...base, '--duration', '1']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain(`nfvkit up: spec files read from ${join(data, 'read')}, written to ${join(data, 'write')}`);
    const out = openCapture(readFileSync(join(data, 'write', 'runs', 'out.pcap')));
    expect([...out].length).toBe(40);
  });

  it('refuses a symbolic link out of the read directory (exit 4), leaking nothing of the target', async () => {
    const file = specFile('leak', '{ type: pcap, read: shadow.pcap }', '{ type: sink }');
    const r = await runCaptured(['up', file, ...base, '--duration', '0.1']);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('NFVKIT_ERR_DATA_PATH');
    expect(r.stderr).toContain('spec.ingress.read "shadow.pcap" (in the controller\'s read directory): refused: a symbolic link leads outside the read directory');
    expect(r.stderr.replaceAll(dir, '<dir>')).not.toMatch(/root|746f6f72|hash/);
  });
});
