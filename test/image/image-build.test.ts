import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { SourceMap } from 'node:module';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ImageIntegrityError, ImageNotFoundError } from '../../src/errors/catalog.ts';
import { buildImage, sealImage } from '../../src/image/image-builder.ts';
import { computeImageId, IMAGE_FILE, MANIFEST_FILE, parseManifest } from '../../src/image/image-manifest.ts';
import { ImageStore } from '../../src/image/image-store.ts';
import { PACKAGE_ROOT } from '../../src/image/package-info.ts';
import { DROP_REASON_LIST } from '../../src/packet/drop-reason.ts';
import { compilePipeline } from '../../src/pipeline/compiler.ts';
import type { PipelineDefinition } from '../../src/pipeline/define-pipeline.ts';
import { firewall } from '../../functions/firewall/pipeline.ts';
import { loadBalancer } from '../../functions/load-balancer/pipeline.ts';
import { nat } from '../../functions/nat/pipeline.ts';
import { passThrough } from '../../functions/pass-through/pipeline.ts';

const root = mkdtempSync(join(tmpdir(), 'nfvkit-image-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const fwConfig = { defaultPolicy: 'drop', rules: [{ action: 'allow', proto: 'tcp', dport: 80 }] };
const lbConfig = {
  services: [{ name: 'web', vip: '198.18.0.100', port: 80, backends: [{ address: '198.19.0.1', port: 8080 }, { address: '198.19.0.2', port: 8080, weight: 2 }] }],
};
const natConfig = { snat: { addresses: '198.18.100.1', match: ['10.0.0.0/8'] } };

describe('image builder', () => {
  it('is reproducible: same inputs give the same bytes and id, whatever the store path', async () => {
    const a = await buildImage(firewall, fwConfig, { store: ImageStore.open(join(root, 'a')) });
    const b = await buildImage(firewall, structuredClone(fwConfig), { store: ImageStore.open(join(root, 'elsewhere', 'b')) });
    expect(a.cache).toBe('miss');
    expect(b.cache).toBe('miss');
    expect(b.manifest.id).toBe(a.manifest.id);
    expect(readFileSync(b.imagePath)).toEqual(readFileSync(a.imagePath));
    expect(readFileSync(join(root, 'elsewhere', 'b', b.manifest.id, MANIFEST_FILE), 'utf8')).toBe(
      readFileSync(join(root, 'a', a.manifest.id, MANIFEST_FILE), 'utf8'),
    );
    expect(readFileSync(b.sourceMapPath!)).toEqual(readFileSync(a.sourceMapPath!));
    const again = await sealImage(compilePipeline(firewall, fwConfig), 256);
    expect(again.manifest.id).toBe(a.manifest.id);
    expect(Buffer.from(again.bytes).equals(readFileSync(a.imagePath))).toBe(true);
    expect(Buffer.from(again.sourceMap).equals(readFileSync(a.sourceMapPath!))).toBe(true);
  });

  it('hashes the validated configuration: key order and written defaults do not matter, a changed rule does', async () => {
    const base = await sealImage(compilePipeline(firewall, fwConfig), 256);
    const reordered = await sealImage(compilePipeline(firewall, { rules: [{ dport: 80, proto: 'tcp', action: 'allow' }], defaultPolicy: 'drop' }), 256);
    const withDefault = await sealImage(compilePipeline(firewall, { ...fwConfig, stateful: true }), 256);
    const changed = await sealImage(compilePipeline(firewall, { ...fwConfig, rules: [{ action: 'allow', proto: 'tcp', dport: 81 }] }), 256);
    const moreMemory = await sealImage(compilePipeline(firewall, fwConfig), 512);
    expect(reordered.manifest.id).toBe(base.manifest.id);
    expect(withDefault.manifest.id).toBe(base.manifest.id);
    expect(changed.manifest.id).not.toBe(base.manifest.id);
    expect(changed.manifest.build.configSha256).not.toBe(base.manifest.build.configSha256);
    expect(moreMemory.manifest.id).not.toBe(base.manifest.id);
    expect(moreMemory.manifest.sha256).toBe(base.manifest.sha256);
  });

  it('seals the manifest: the id is the hash of the rest, and any edit is detected', async () => {
    const { manifest } = await sealImage(compilePipeline(passThrough, {}), 16);
    expect(manifest.id).toMatch(/^[0-9a-f]{64}$/);
    expect(computeImageId(manifest)).toBe(manifest.id);
    const text = JSON.stringify(manifest);
    expect(parseManifest(text, 'x').id).toBe(manifest.id);
    expect(() => parseManifest(text.replace('"memoryMiB":16', '"memoryMiB":17'), 'x')).toThrow(ImageIntegrityError);
    expect(() => parseManifest(text.replace(manifest.sourceMap!.sha256, '0'.repeat(64)), 'x')).toThrow(ImageIntegrityError);
    expect(manifest).toMatchObject({
      name: 'pass-through',
      memoryMiB: 16,
      devices: [
        { name: 'eth0', side: 'inside', model: 'virtio-net' },
        { name: 'eth1', side: 'outside', model: 'virtio-net' },
      ],
      sourceMap: { file: 'image.mjs.map' },
      build: { function: 'pass-through', target: 'node20', minify: true },
    });
    expect(manifest.counters.find((c) => c.name === 'ipv4_bad_checksum')?.drop).toBe(true);
    expect(manifest.build.nfvkitVersion).toBe(JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')).version);
  });

  it('takes the memory limit from the option, else the function, else the default', async () => {
    const store = ImageStore.open(join(root, 'memory'));
    expect((await buildImage(nat, natConfig, { store })).manifest.memoryMiB).toBe(128);
    expect((await buildImage(nat, natConfig, { store, memoryMiB: 48 })).manifest.memoryMiB).toBe(48);
    await expect(buildImage(nat, natConfig, { store, memoryMiB: 3 })).rejects.toThrow(/whole number of MiB/);
  });

  it('writes no absolute path, timestamp or source map into the bundle, minified or readable', async () => {
    const compiled = compilePipeline(firewall, fwConfig);
    for (const minify of [true, false]) {
      const { bytes, sourceMap } = await sealImage(compiled, 256, minify);
      const text = Buffer.from(bytes).toString('utf8');
      expect(text).not.toContain(PACKAGE_ROOT);
      expect(text).not.toContain(tmpdir());
      expect(text).not.toContain('sourceMappingURL');
      expect(text).not.toMatch(/20\d\d-\d\d-\d\dT/);
      expect(text.includes('// src/packet/parse-frame.ts')).toBe(!minify);
      const imports = [...text.matchAll(/\bimport\s*(?:\{[^}]*\}\s*from\s*)?"([^"]+)"/g)].map((m) => m[1]);
      expect(imports.length).toBeGreaterThan(0);
      for (const from of imports) expect(from).toMatch(/^node:/);
      const map = JSON.parse(Buffer.from(sourceMap).toString('utf8')) as { sources: string[]; sourcesContent: string[] };
      expect(Buffer.from(sourceMap).toString('utf8')).not.toContain(PACKAGE_ROOT);
      expect(map.sources).toContain('src/packet/parse-frame.ts');
      expect(map.sources).toContain('nfvkit-image:pipeline.mjs');
      expect(map.sourcesContent[map.sources.indexOf('nfvkit-image:pipeline.mjs')]).toBe(compiled.source);
    }
  });

  it('maps a position in the minified bundle back to the TypeScript source through the map beside it', async () => {
    const { bytes, sourceMap } = await sealImage(compilePipeline(passThrough, {}), 16);
    const lines = Buffer.from(bytes).toString('utf8').split('\n');
    const line = lines.findIndex((l) => l.includes('function parseFrame('));
    expect(line).toBeGreaterThanOrEqual(0);
    const column = lines[line].indexOf('function parseFrame(');
    const map = new SourceMap(JSON.parse(Buffer.from(sourceMap).toString('utf8')));
    const entry = map.findEntry(line, column) as { originalSource: string; originalLine: number };
    expect(entry.originalSource).toBe('src/packet/parse-frame.ts');
    const original = readFileSync(join(PACKAGE_ROOT, 'src/packet/parse-frame.ts'), 'utf8').split('\n')[entry.originalLine];
    expect(original).toContain('function parseFrame(');
  });

  it('a firewall image holds neither the load balancer nor the NAT', async () => {
    const fw = await sealImage(compilePipeline(firewall, fwConfig), 256);
    const lb = await sealImage(compilePipeline(loadBalancer, lbConfig), 256);
    const natImage = await sealImage(compilePipeline(nat, natConfig), 128);
    const paths = fw.manifest.modules.map((m) => m.path);
    expect(paths).toContain('src/packet/parse-frame.ts');
    expect(paths).toContain('src/runtime/instance-main.ts');
    for (const p of paths) expect(p).not.toMatch(/^functions\/(load-balancer|nat)\/|^src\/flow\/maglev|^node_modules\//);
    const fwText = Buffer.from(fw.bytes).toString('utf8');
    for (const identifier of ['MaglevTable', 'maglevEntries', 'BackendSet', 'NatEngine', 'NatMappingTable', 'PortAllocator']) expect(fwText).not.toContain(identifier);
    // The load balancer rebuilds its slots with maglevEntries: it carries no MaglevTable class.
    const lbText = Buffer.from(lb.bytes).toString('utf8');
    expect(lbText).toContain('function maglevEntries(');
    expect(lbText).not.toContain('MaglevTable');
    expect(lb.manifest.modules.map((m) => m.path)).toContain('src/flow/maglev.ts');
    expect(Buffer.from(natImage.bytes).toString('utf8')).toContain('NatEngine');
    expect(natImage.manifest.modules.some((m) => m.path.startsWith('functions/load-balancer/'))).toBe(false);
  });

  it('holds the instance side of the pool, not the supervision the host runs', async () => {
    for (const [def, cfg] of [[passThrough, {}], [loadBalancer, lbConfig]] as Array<[PipelineDefinition<any>, unknown]>) {
      const { manifest, bytes } = await sealImage(compilePipeline(def, cfg), 64);
      const paths = manifest.modules.map((m) => m.path);
      expect(paths, def.name).toContain('src/pool/pool-handle.ts');
      expect(paths, def.name).not.toContain('src/pool/packet-pool.ts');
      expect(paths, def.name).not.toContain('src/pool/pool-supervision.ts');
      const text = Buffer.from(bytes).toString('utf8');
      for (const identifier of ['class PacketPool', 'LockWatch', 'reclaimAllBut', 'leakCheck']) expect(text, `${def.name}: ${identifier}`).not.toContain(identifier);
    }
  });

  it('carries the drop-reason codes as numbers, not the drop-reason list or its help', async () => {
    const { manifest, bytes } = await sealImage(compilePipeline(passThrough, {}), 64);
    expect(manifest.modules.map((m) => m.path)).not.toContain('src/packet/drop-reason.ts');
    const text = Buffer.from(bytes).toString('utf8');
    expect(text).toContain('function parseFrame(');
    for (const e of DROP_REASON_LIST.entries) expect(text, e.name).not.toContain(e.help);
    expect(text).not.toContain('DropReason.');
  });

  it('measures the four builtin images: by default (minified) each stays within 100 KB', async () => {
    const sizes: Record<string, { plain: number; minified: number; modules: number }> = {};
    const builtins: Array<[PipelineDefinition<any>, unknown]> = [
      [passThrough, {}],
      [firewall, fwConfig],
      [loadBalancer, lbConfig],
      [nat, natConfig],
    ];
    for (const [def, cfg] of builtins) {
      const compiled = compilePipeline(def, cfg);
      const plain = await sealImage(compiled, 64, false);
      const minified = await sealImage(compiled, 64);
      expect(minified.manifest.build.minify).toBe(true);
      expect(plain.manifest.build.minify).toBe(false);
      expect(minified.manifest.size).toBeLessThan(plain.manifest.size);
      expect(minified.manifest.id).not.toBe(plain.manifest.id);
      sizes[def.name] = { plain: plain.manifest.size, minified: minified.manifest.size, modules: plain.manifest.modules.length };
    }
    console.log('image sizes (bytes):', JSON.stringify(sizes));
    for (const name of Object.keys(sizes)) expect(sizes[name].minified, name).toBeLessThanOrEqual(100_000);
    expect(sizes['pass-through'].plain).toBeLessThan(sizes.firewall.plain);
  });
});

describe('image store', () => {
  it('detects a cache hit by build key before bundling, and rebuilds a damaged image', async () => {
    const store = ImageStore.open(join(root, 'cache'));
    const first = await buildImage(firewall, fwConfig, { store });
    const stamp = statSync(first.imagePath).mtimeMs;
    const hit = await buildImage(firewall, fwConfig, { store });
    expect(hit.cache).toBe('hit');
    expect(hit.manifest).toEqual(first.manifest);
    expect(statSync(hit.imagePath).mtimeMs).toBe(stamp);
    expect(store.list().map((e) => e.id)).toEqual([first.manifest.id]);

    writeFileSync(first.imagePath, readFileSync(first.imagePath, 'utf8').replace('parseFrame', 'parseFrameX'));
    expect(() => store.verify(first.manifest.id)).toThrow(ImageIntegrityError);
    const rebuilt = await buildImage(firewall, fwConfig, { store });
    expect(rebuilt.cache).toBe('stale');
    expect(rebuilt.manifest.id).toBe(first.manifest.id);
    expect(store.verify(first.manifest.id).id).toBe(first.manifest.id);
    expect(store.list()).toHaveLength(1);

    writeFileSync(rebuilt.sourceMapPath!, '{}');
    expect(() => store.verify(first.manifest.id)).toThrow(/source map/);
    expect((await buildImage(firewall, fwConfig, { store })).cache).toBe('stale');
    expect(store.verify(first.manifest.id).sourceMap?.size).toBe(statSync(rebuilt.sourceMapPath!).size);
  });

  it('still holds and verifies an image sealed without a source map', async () => {
    const store = ImageStore.open(join(root, 'no-map'));
    const sealed = await sealImage(compilePipeline(passThrough, {}), 16);
    const { sourceMap: _, id: __, ...rest } = sealed.manifest;
    const manifest = { ...rest, id: computeImageId(rest) };
    expect(() => store.add(sealed.bytes, manifest, { sourceMap: sealed.sourceMap })).toThrow(/source map/);
    expect(store.add(sealed.bytes, manifest).added).toBe(true);
    expect(store.verify(manifest.id).id).toBe(manifest.id);
    expect(store.sourceMapPath(manifest.id)).toBeUndefined();
    expect(existsSync(join(store.dir, manifest.id, 'image.mjs.map'))).toBe(false);
  });

  it('keeps a readable (not minified) image apart from the default one', async () => {
    const store = ImageStore.open(join(root, 'readable'));
    const small = await buildImage(passThrough, {}, { store });
    const readable = await buildImage(passThrough, {}, { store, minify: false });
    expect(readable.cache).toBe('miss');
    expect(readable.manifest.id).not.toBe(small.manifest.id);
    expect(readable.manifest.build.key).not.toBe(small.manifest.build.key);
    expect(readFileSync(readable.imagePath, 'utf8')).toContain('// src/runtime/instance-main.ts');
    expect(readable.manifest.size).toBeGreaterThan(small.manifest.size);
    expect((await buildImage(passThrough, {}, { store })).cache).toBe('hit');
  });

  it('lists, resolves id prefixes, removes, and survives a lost index', async () => {
    const store = ImageStore.open(join(root, 'ops'));
    const pt = await buildImage(passThrough, {}, { store });
    const fw = await buildImage(firewall, fwConfig, { store });
    const list = store.list();
    expect(list.map((e) => e.name)).toEqual(['pass-through', 'firewall']);
    expect(list[1]).toMatchObject({ id: fw.manifest.id, size: fw.manifest.size, modules: fw.manifest.modules.length, memoryMiB: 256 });
    expect(Date.parse(list[0].created)).toBeGreaterThan(Date.now() - 60_000);
    expect(store.resolve(fw.manifest.id.slice(0, 8)).id).toBe(fw.manifest.id);
    expect(store.manifest(pt.manifest.id.slice(0, 6).toUpperCase())).toEqual(pt.manifest);
    expect(() => store.resolve('abc')).toThrow(ImageNotFoundError);
    expect(() => store.resolve('zzzz')).toThrow(ImageNotFoundError);
    const unknown = [...'0123456789abcdef'].map((c) => c.repeat(8)).find((p) => !list.some((e) => e.id.startsWith(p)))!;
    expect(() => store.manifest(unknown)).toThrow(/no image/);

    rmSync(join(store.dir, 'index.json'));
    expect(new Set(store.list().map((e) => e.id))).toEqual(new Set([pt.manifest.id, fw.manifest.id]));

    expect(store.remove(pt.manifest.id.slice(0, 10)).name).toBe('pass-through');
    expect(existsSync(join(store.dir, pt.manifest.id))).toBe(false);
    expect(store.list().map((e) => e.id)).toEqual([fw.manifest.id]);
    expect(JSON.parse(readFileSync(join(store.dir, 'index.json'), 'utf8')).images).toHaveLength(1);
    expect(existsSync(join(store.dir, fw.manifest.id, IMAGE_FILE))).toBe(true);
  });
});
