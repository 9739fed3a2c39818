/**
 * Where the controller's `.proto` files live and how they are loaded, shared by the
 * server, the client and the reflection service so all three see the same schema.
 *
 * @example
 * ```ts
 * const service = controllerServiceDefinition();
 * server.addService(service, handlers);
 * ```
 */
import { fileURLToPath } from 'node:url';
import { loadSync, type Options, type PackageDefinition, type ServiceDefinition } from '@grpc/proto-loader';

/** Directory holding `nfvkit/v1/controller.proto` and `google/rpc/*.proto`. */
export const PROTO_ROOT = fileURLToPath(new URL('../../proto/', import.meta.url));

/** Fully-qualified name of the controller service. */
export const CONTROLLER_SERVICE = 'nfvkit.v1.Controller';

/** Proto files of the controller API, relative to {@link PROTO_ROOT}. */
export const CONTROLLER_PROTO_FILES: readonly string[] = [
  'nfvkit/v1/controller.proto',
  'google/rpc/status.proto',
  'google/rpc/error_details.proto',
];

/**
 * proto-loader options: camelCase fields, 64-bit integers as numbers (sequence numbers,
 * counts and Unix ms stay far below 2^53), enums as their names, defaults filled in.
 */
export const PROTO_LOADER_OPTIONS: Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_ROOT],
};

let cachedPackage: PackageDefinition | undefined;

/** The loaded package definition (controller + google.rpc details), loaded once. */
export function controllerPackageDefinition(): PackageDefinition {
  cachedPackage ??= loadSync([...CONTROLLER_PROTO_FILES], PROTO_LOADER_OPTIONS);
  return cachedPackage;
}

/** The `nfvkit.v1.Controller` service definition (method paths and codecs). */
export function controllerServiceDefinition(): ServiceDefinition {
  return controllerPackageDefinition()[CONTROLLER_SERVICE] as ServiceDefinition;
}
