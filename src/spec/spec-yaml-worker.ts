/**
 * Worker entry of `SpecParser`: parses specs whole (`parseChainSpec`, against the
 * functions the request names, imported once by their modules), or runs the YAML half of
 * spec parsing (`readSpecYaml`) and locates field paths in a text, off the controller's
 * event loop. Each request carries its text. Messages are `SpecWorkerRequest` in,
 * `SpecWorkerReply` out.
 */
import { parentPort } from 'node:worker_threads';
import { ConfigValidationError } from '../errors/catalog.ts';
import type { PipelineDefinition } from '../pipeline/define-pipeline.ts';
import { FunctionRegistry } from '../pipeline/function-registry.ts';
import { chainSpecDigest } from './chain-spec-digest.ts';
import { locateIssues, readSpecYaml, validateSpecData } from './parse-chain-spec.ts';
import type { SpecWorkerFunction, SpecWorkerReply, SpecWorkerRequest } from './spec-parser.ts';

const port = parentPort;
if (port === null) throw new Error('spec-yaml-worker runs in a worker thread');

/** Registries built from the functions requests named, by their list. */
const registries = new Map<string, FunctionRegistry>();

async function registryOf(functions: readonly SpecWorkerFunction[]): Promise<FunctionRegistry> {
  const key = JSON.stringify(functions);
  let registry = registries.get(key);
  if (registry === undefined) {
    registry = new FunctionRegistry();
    for (const f of functions) {
      const module = (await import(f.source.module)) as Record<string, unknown>;
      const definition = module[f.source.exportName] as PipelineDefinition<any> | undefined;
      if (definition?.name !== f.name) throw new Error(`${f.source.module}#${f.source.exportName} does not define function "${f.name}"`);
      registry.register(definition, f.source);
    }
    registries.set(key, registry);
  }
  return registry;
}

async function answer(request: SpecWorkerRequest): Promise<SpecWorkerReply> {
  try {
    const registry = request.op === 'parse' ? await registryOf(request.functions) : undefined;
    const yaml = readSpecYaml(request.text, request.source, request.maxBytes);
    if (request.op === 'read') return { id: request.id, raw: yaml.raw, duplicates: yaml.duplicates };
    if (request.op === 'locate') return { id: request.id, located: locateIssues(request.issues, request.source, yaml.locator) };
    const result = validateSpecData(yaml.raw, registry!);
    if (result.spec !== undefined && yaml.duplicates.length === 0) return { id: request.id, spec: result.spec, digest: chainSpecDigest(result.spec) };
    return { id: request.id, invalid: [...yaml.duplicates, ...locateIssues(result.issues, request.source, yaml.locator)] };
  } catch (err) {
    return err instanceof ConfigValidationError ? { id: request.id, invalid: err.issues } : { id: request.id, failed: (err as Error).message };
  }
}

port.on('message', (request: SpecWorkerRequest) => {
  void answer(request).then((reply) => port.postMessage(reply));
});
