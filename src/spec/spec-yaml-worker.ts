/**
 * Worker entry of `SpecParser`: runs the YAML half of spec parsing (`readSpecYaml`) and
 * locates field paths in a text, off the controller's event loop. Stateless: each request
 * carries its text. Messages are `SpecWorkerRequest` in, `SpecWorkerReply` out.
 */
import { parentPort } from 'node:worker_threads';
import { ConfigValidationError } from '../errors/catalog.ts';
import { locateIssues, readSpecYaml } from './parse-chain-spec.ts';
import type { SpecWorkerReply, SpecWorkerRequest } from './spec-parser.ts';

const port = parentPort;
if (port === null) throw new Error('spec-yaml-worker runs in a worker thread');

port.on('message', (request: SpecWorkerRequest) => {
  let reply: SpecWorkerReply;
  try {
    const yaml = readSpecYaml(request.text, request.source, request.maxBytes);
    reply =
      request.op === 'read'
        ? { id: request.id, raw: yaml.raw, duplicates: yaml.duplicates }
        : { id: request.id, located: locateIssues(request.issues, request.source, yaml.locator) };
  } catch (err) {
    reply = err instanceof ConfigValidationError ? { id: request.id, invalid: err.issues } : { id: request.id, failed: (err as Error).message };
  }
  port.postMessage(reply);
});
