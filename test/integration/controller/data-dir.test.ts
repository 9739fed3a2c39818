import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerBuiltinFunctions } from '../../../functions/index.ts';
import { Controller } from '../../../src/controller/controller.ts';
import { createControllerClient, type ControllerClient } from '../../../src/grpc/controller-client.ts';
import { startControllerServer, type ControllerServer } from '../../../src/grpc/controller-server.ts';
import type { ControllerRpcError } from '../../../src/grpc/controller-rpc-error.ts';
import { ImageStore } from '../../../src/image/image-store.ts';
import { IpProto } from '../../../src/packet/ipv4.ts';
import { openCapture } from '../../../src/pcap/open-capture.ts';
import { PcapWriter } from '../../../src/pcap/pcap-writer.ts';
import { FunctionRegistry } from '../../../src/pipeline/function-registry.ts';
import { buildFrame } from '../../../src/traffic/frame-builder.ts';

/** A pass-through chain between two pcap ends (the built-in factories: no `endFactories`). */
function pcapSpec(name: string, ingress: string, egress = '{ type: sink }'): string {
  return `apiVersion: nfvkit.dev/v1
kind: ServiceFunctionChain
metadata: { name: ${name} }
spec:
  ingress: ${ingress}
  egress: ${egress}
  functions:
    - name: pass
      function: pass-through
      resources: { memory: 64Mi }
  placement: isolated
`;
}

/** The secret's first bytes are "root" (0x726f6f74 as a big-endian magic, 0x746f6f72 read little-endian). */
const SECRET = `root:$6$salt$hash:19000:0:99999:7:::\n${'x'.repeat(4099 - 38)}\n`;

describe('controller: spec file paths stay inside the data directory (issue 13, item 1)', () => {
  let tmp: string;
  let controller: Controller;
  let server: ControllerServer;
  let rpc: ControllerClient;
  let secretPath: string;
  let readDir: string;
  let writeDir: string;

  /** The rejection of `controller.apply`, checked to leak nothing of the secret file. */
  async function refusedApply(yaml: string, source = 'hostile.yaml'): Promise<Error & { code?: string }> {
    const err = (await controller.apply(yaml, source).then(
      () => undefined,
      (e: unknown) => e,
    )) as (Error & { code?: string }) | undefined;
    expect(err, 'apply must fail').toBeInstanceOf(Error);
    const text = err!.message.replaceAll(tmp, '<tmp>');
    expect(text).not.toMatch(/root/i);
    expect(text).not.toMatch(/746f6f72|726f6f74/i);
    expect(text).not.toContain(String(SECRET.length));
    expect(text).not.toContain('hash');
    expect(text).not.toMatch(/\n\s+at /); // no stack trace
    return err!;
  }

  /** The controller still answers: a list and a get of the chain that runs meanwhile. */
  function stillAnswering(): void {
    expect(controller.listChains().map((c) => c.name)).toEqual(['good']);
    expect(controller.getChain('good').phase).toBe('Ready');
  }

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'nfvkit-hostile-'));
    secretPath = join(tmp, 'outside', 'shadow');
    mkdirSync(join(tmp, 'outside'));
    writeFileSync(secretPath, SECRET);
    controller = await Controller.create({
      registry: registerBuiltinFunctions(new FunctionRegistry()),
      store: ImageStore.open(join(tmp, 'images')),
      warm: false,
      autoscale: false,
      deleteTimeoutMs: 500,
      dataDir: { dataDir: join(tmp, 'data') },
    });
    readDir = controller.dataDir.readDir;
    writeDir = controller.dataDir.writeDir;
    await controller.dataDir.ensure();
    server = await startControllerServer(controller);
    rpc = createControllerClient(`127.0.0.1:${server.port}`);
    // One honest chain that replays a capture from the read directory and keeps running.
    const w = new PcapWriter();
    for (let i = 0; i < 50; i++) w.write(buildFrame({ proto: IpProto.UDP, srcIp: 0xc6120100 + i, dstIp: 0xc6130001, srcPort: 10000 + i, dstPort: 53, payloadLength: 20 }), 1_700_000_000 + i, 0);
    mkdirSync(join(readDir, 'captures'));
    writeFileSync(join(readDir, 'captures', 'in.pcap'), w.bytes());
    await controller.apply(pcapSpec('good', '{ type: pcap, read: captures/in.pcap }', '{ type: pcap, write: runs/good.pcap }'), 'good.yaml');
  });

  afterAll(async () => {
    rpc?.close();
    await server?.close();
    await controller?.close(0);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('replays a capture from the read directory and writes one into the write directory (paths never relative to the spec file)', async () => {
    const good = controller.runtimes().find((r) => r.name === 'good')!;
    const deadline = Date.now() + 10_000;
    while (good.ends.outside.stats().framesOut < 50 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(good.ends.outside.stats().framesOut).toBe(50);
    expect(good.ends.inside.stats()).toMatchObject({ framesIn: 50, recordsSkipped: 0, captureDamaged: 0 });
  });

  it('refuses absolute and .. paths at validation, with their YAML position, opening nothing', async () => {
    const abs = await refusedApply(pcapSpec('abs', `{ type: pcap, read: ${secretPath} }`), 'abs.yaml');
    expect(abs.code).toBe('NFVKIT_ERR_CONFIG_INVALID');
    expect(abs.message).toContain(`abs.yaml:5:32 spec.ingress.read: "${secretPath}": absolute paths are refused`);
    const up = await refusedApply(pcapSpec('up', '{ type: sink }', '{ type: pcap, write: ../../outside/shadow }'), 'up.yaml');
    expect(up.message).toContain('up.yaml:6:32 spec.egress.write: "../../outside/shadow": `..` is refused');
    const viaGrpc = (await rpc.applyChain(pcapSpec('abs', '{ type: sink }', `{ type: pcap, write: ${secretPath} }`), 'abs.yaml').catch((e: unknown) => e)) as ControllerRpcError;
    expect(viaGrpc.statusName).toBe('INVALID_ARGUMENT');
    expect(viaGrpc.fieldViolations.map((v) => v.field)).toEqual(['spec.egress.write']);
    expect(readFileSync(secretPath, 'utf8')).toBe(SECRET);
    stillAnswering();
  });

  it('refuses a symbolic link out of the read directory: FAILED_PRECONDITION, no byte or size of the target', async () => {
    symlinkSync(secretPath, join(readDir, 'shadow.pcap'));
    const err = await refusedApply(pcapSpec('link', '{ type: pcap, read: shadow.pcap }'));
    expect(err.code).toBe('NFVKIT_ERR_DATA_PATH');
    expect(err.message).toBe(`spec.ingress.read "shadow.pcap" (in the controller's read directory): refused: a symbolic link leads outside the read directory`);
    const viaGrpc = (await rpc.applyChain(pcapSpec('link', '{ type: pcap, read: shadow.pcap }'), 'link.yaml').catch((e: unknown) => e)) as ControllerRpcError;
    expect(viaGrpc.statusName).toBe('FAILED_PRECONDITION');
    expect(viaGrpc.nfvkitCode).toBe('NFVKIT_ERR_DATA_PATH');
    expect(viaGrpc.message).not.toMatch(/root|746f6f72/);
    stillAnswering();
  });

  it('refuses a non-capture inside the read directory without quoting its magic number or size', async () => {
    writeFileSync(join(readDir, 'copied-shadow'), SECRET);
    const err = await refusedApply(pcapSpec('magic', '{ type: pcap, read: copied-shadow }'));
    expect(err.code).toBe('NFVKIT_ERR_DATA_PATH');
    expect(err.message).toContain('not a pcap or pcapng capture');
    stillAnswering();
  });

  it('reports a missing file as FAILED_PRECONDITION with a clear message, never INTERNAL', async () => {
    const err = await refusedApply(pcapSpec('missing', '{ type: pcap, read: captures/none.pcap }'));
    expect(err.message).toBe(`spec.ingress.read "captures/none.pcap" (in the controller's read directory): refused: no such file`);
    const viaGrpc = (await rpc.applyChain(pcapSpec('missing', '{ type: pcap, read: captures/none.pcap }'), 'missing.yaml').catch((e: unknown) => e)) as ControllerRpcError;
    expect(viaGrpc.statusName).toBe('FAILED_PRECONDITION');
    expect(viaGrpc.message).toContain('no such file');
    stillAnswering();
  });

  it('refuses a FIFO without blocking: gRPC and the event loop keep answering meanwhile', async () => {
    execFileSync('mkfifo', [join(readDir, 'pipe.pcap')]);
    let worstGapMs = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      worstGapMs = Math.max(worstGapMs, now - last);
      last = now;
    }, 5);
    try {
      const applying = rpc.applyChain(pcapSpec('fifo', '{ type: pcap, read: pipe.pcap }'), 'fifo.yaml').catch((e: unknown) => e);
      const listed = await rpc.listChains();
      expect(listed.map((c) => c.name)).toEqual(['good']);
      const err = (await applying) as ControllerRpcError;
      expect(err.statusName).toBe('FAILED_PRECONDITION');
      expect(err.message).toContain('not a regular file (a FIFO)');
      expect((await rpc.getChain('good')).phase).toBe('Ready');
    } finally {
      clearInterval(ticker);
    }
    // Applying builds the image (cached) and opens the ends; nothing may hold the loop long.
    expect(worstGapMs).toBeLessThan(1000);
    stillAnswering();
  });

  it('refuses a directory, and a write through a link out of the write directory (the target stays untouched)', async () => {
    mkdirSync(join(readDir, 'a-dir.pcap'));
    expect((await refusedApply(pcapSpec('dir', '{ type: pcap, read: a-dir.pcap }'))).message).toContain('not a regular file (a directory)');
    symlinkSync(join(tmp, 'outside'), join(writeDir, 'escape'));
    const before = statSync(secretPath).mtimeMs;
    const err = await refusedApply(pcapSpec('escape', '{ type: sink }', '{ type: pcap, write: escape/shadow }'));
    expect(err.message).toBe(`spec.egress.write "escape/shadow" (in the controller's write directory): refused: a symbolic link leads outside the write directory`);
    symlinkSync(secretPath, join(writeDir, 'shadow.pcap'));
    expect((await refusedApply(pcapSpec('linkw', '{ type: sink }', '{ type: pcap, write: shadow.pcap }'))).message).toContain('not a regular file (a symbolic link)');
    expect(readFileSync(secretPath, 'utf8')).toBe(SECRET);
    expect(statSync(secretPath).mtimeMs).toBe(before);
    stillAnswering();
  });

  it('writes the capture into the write directory when the chain is deleted', async () => {
    await controller.deleteChain('good');
    const written = openCapture(readFileSync(join(writeDir, 'runs', 'good.pcap')));
    expect([...written].length).toBe(50);
    expect(controller.listChains()).toEqual([]);
  });
});
