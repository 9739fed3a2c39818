/**
 * The `grpc-status-details-bin` trailer: a serialized `google.rpc.Status` whose `details`
 * hold a `google.rpc.ErrorInfo` (reason = `NFVKIT_ERR_*` code) and, for invalid input, a
 * `google.rpc.BadRequest` with one field violation per problem. The server encodes it,
 * the client (and the CLI) decodes it; grpcurl and other gRPC stacks read it as well.
 *
 * @example
 * ```ts
 * const bin = encodeStatusDetails({ code: 3, message: 'bad spec', reason: 'NFVKIT_ERR_CONFIG_INVALID',
 *   fieldViolations: [{ field: 'spec.functions[0].scaling.max', description: 'a.yaml:7:12 must be ≥ min' }] });
 * metadata.set(STATUS_DETAILS_KEY, bin);
 * const decoded = decodeStatusDetails(err.metadata);   // client side
 * ```
 */
import { join } from 'node:path';
import type { Metadata } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { PROTO_ROOT } from './controller-proto.ts';

/** Trailer key gRPC reserves for the serialized `google.rpc.Status`. */
export const STATUS_DETAILS_KEY = 'grpc-status-details-bin';

/** `google.rpc.ErrorInfo.domain` of every error the controller raises. */
export const ERROR_DOMAIN = 'nfvkit';

const TYPE_URL_PREFIX = 'type.googleapis.com/';
const BAD_REQUEST = 'google.rpc.BadRequest';
const ERROR_INFO = 'google.rpc.ErrorInfo';

/** One bad field: a request field or a path in the chain spec. */
export interface FieldViolation {
  readonly field: string;
  readonly description: string;
}

/** What the trailer says, flattened. */
export interface StatusDetails {
  /** gRPC status code. */
  readonly code: number;
  readonly message: string;
  /** `ErrorInfo.reason`: the `NFVKIT_ERR_*` code, when the server sent one. */
  readonly reason?: string;
  /** `ErrorInfo.domain`, when present. */
  readonly domain?: string;
  /** `BadRequest.field_violations`, empty when absent. */
  readonly fieldViolations: readonly FieldViolation[];
}

interface Codecs {
  status: protobuf.Type;
  badRequest: protobuf.Type;
  errorInfo: protobuf.Type;
}

let codecs: Codecs | undefined;

function loadCodecs(): Codecs {
  if (codecs) return codecs;
  const root = new protobuf.Root();
  // Imports resolve under proto/; google/protobuf/* comes bundled with protobufjs.
  root.resolvePath = (_origin, target) => join(PROTO_ROOT, target);
  root.loadSync(['google/rpc/status.proto', 'google/rpc/error_details.proto'], { keepCase: false });
  codecs = {
    status: root.lookupType('google.rpc.Status'),
    badRequest: root.lookupType(BAD_REQUEST),
    errorInfo: root.lookupType(ERROR_INFO),
  };
  return codecs;
}

/** Serializes a `google.rpc.Status` with ErrorInfo (when `reason` is set) and BadRequest (when there are violations). */
export function encodeStatusDetails(details: StatusDetails): Buffer {
  const c = loadCodecs();
  // Any's fields keep their proto names (`type_url`) in protobufjs's bundled definition.
  const any: { type_url: string; value: Uint8Array }[] = [];
  if (details.reason !== undefined) {
    const info = { reason: details.reason, domain: details.domain ?? ERROR_DOMAIN, metadata: {} };
    any.push({ type_url: TYPE_URL_PREFIX + ERROR_INFO, value: c.errorInfo.encode(c.errorInfo.fromObject(info)).finish() });
  }
  if (details.fieldViolations.length > 0) {
    const br = { fieldViolations: details.fieldViolations.map((v) => ({ field: v.field, description: v.description })) };
    any.push({ type_url: TYPE_URL_PREFIX + BAD_REQUEST, value: c.badRequest.encode(c.badRequest.fromObject(br)).finish() });
  }
  const status = c.status.fromObject({ code: details.code, message: details.message, details: any });
  return Buffer.from(c.status.encode(status).finish());
}

/**
 * Decodes the trailer of a failed call; `undefined` when the server sent none (transport
 * errors, other servers) or it cannot be parsed. Unknown detail types are skipped.
 */
export function decodeStatusDetails(trailers: Metadata | undefined): StatusDetails | undefined {
  const raw = trailers?.get(STATUS_DETAILS_KEY)[0];
  if (raw === undefined || typeof raw === 'string') return undefined;
  const c = loadCodecs();
  try {
    const status = c.status.toObject(c.status.decode(raw), { defaults: true }) as {
      code: number;
      message: string;
      details: { type_url: string; value: Uint8Array }[];
    };
    let reason: string | undefined;
    let domain: string | undefined;
    const fieldViolations: FieldViolation[] = [];
    for (const d of status.details) {
      const typeName = d.type_url.slice(d.type_url.lastIndexOf('/') + 1);
      if (typeName === ERROR_INFO) {
        const info = c.errorInfo.toObject(c.errorInfo.decode(d.value), { defaults: true }) as { reason: string; domain: string };
        reason = info.reason;
        domain = info.domain;
      } else if (typeName === BAD_REQUEST) {
        const br = c.badRequest.toObject(c.badRequest.decode(d.value), { defaults: true }) as { fieldViolations: FieldViolation[] };
        for (const v of br.fieldViolations) fieldViolations.push({ field: v.field, description: v.description });
      }
    }
    return { code: status.code, message: status.message, reason, domain, fieldViolations };
  } catch {
    return undefined;
  }
}
