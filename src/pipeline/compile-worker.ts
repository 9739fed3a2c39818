/**
 * Worker entry of `PipelineCompileService`: compiles pipelines (config validation, element
 * code generation, rule classifiers) off the controller's event loop. Each request names
 * its functions by module and export (`FunctionSource`); the definitions are imported once
 * and checked to carry the expected name. Messages are `CompileRequest` in,
 * `CompileReply` out.
 */
import { parentPort } from 'node:worker_threads';
import { ConfigValidationError, NfvkitError } from '../errors/catalog.ts';
import { configSha256Of } from '../image/config-digest.ts';
import { compilePipeline } from './compiler.ts';
import type { PipelineDefinition } from './define-pipeline.ts';
import { compileFusedChain } from './fuse-chain.ts';
import type { CompileReply, CompileRequest, CompilePart } from './compile-service.ts';

const port = parentPort;
if (port === null) throw new Error('compile-worker runs in a worker thread');

const definitions = new Map<string, PipelineDefinition<any>>();

async function definitionOf(part: CompilePart): Promise<PipelineDefinition<any>> {
  const key = `${part.source.module}#${part.source.exportName}`;
  let definition = definitions.get(key);
  if (definition === undefined) {
    const module = (await import(part.source.module)) as Record<string, unknown>;
    definition = module[part.source.exportName] as PipelineDefinition<any> | undefined;
    if (definition === undefined || typeof definition.elements !== 'function') throw new Error(`${key} exports no pipeline definition`);
    definitions.set(key, definition);
  }
  if (definition.name !== part.function) throw new Error(`${key} defines function "${definition.name}", not "${part.function}"`);
  return definition;
}

port.on('message', (request: CompileRequest) => {
  void (async (): Promise<CompileReply> => {
    try {
      const parts = await Promise.all(request.parts.map(async (p) => ({ name: p.name, definition: await definitionOf(p), config: p.config })));
      const compiled = request.fused ? compileFusedChain(parts) : compilePipeline(parts[0].definition, parts[0].config);
      return { id: request.id, compiled, configSha256: configSha256Of(compiled.config) };
    } catch (err) {
      const e = err as Error;
      return {
        id: request.id,
        error: {
          name: e.name,
          code: err instanceof NfvkitError ? err.code : undefined,
          message: e.message,
          ...(err instanceof ConfigValidationError ? { issues: err.issues } : {}),
        },
      };
    }
  })().then((reply) => port.postMessage(reply));
});
