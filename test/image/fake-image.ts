import { sha256Hex } from '../../src/image/canonical-json.ts';
import { computeBuildKey, computeImageId, IMAGE_DEVICES, IMAGE_FILE, IMAGE_FORMAT, type BuildInputs, type ImageManifest } from '../../src/image/image-manifest.ts';

/** A sealed image that needs no bundling: `bytes` is a tiny module, the manifest is complete and its id right. */
export function fakeImage(name: string, payload: string, padBytes = 0): { bytes: Uint8Array; manifest: ImageManifest } {
  const bytes = new Uint8Array(Buffer.from(`export const payload = ${JSON.stringify(payload)};\n// ${'x'.repeat(padBytes)}\n`));
  const inputs: BuildInputs = {
    format: IMAGE_FORMAT,
    function: name,
    configSha256: sha256Hex(payload),
    pipelineSha256: sha256Hex(`pipeline:${payload}`),
    memoryMiB: 32,
    nfvkitVersion: 'test',
    esbuildVersion: 'test',
    target: 'node20',
    minify: true,
  };
  const unsealed: Omit<ImageManifest, 'id'> = {
    format: IMAGE_FORMAT,
    name,
    file: IMAGE_FILE,
    size: bytes.length,
    sha256: sha256Hex(bytes),
    memoryMiB: 32,
    devices: IMAGE_DEVICES,
    counters: [],
    modules: [],
    build: { ...inputs, key: computeBuildKey(inputs) },
  };
  const { format, ...rest } = unsealed;
  return { bytes, manifest: { format, id: computeImageId(unsealed), ...rest } };
}
