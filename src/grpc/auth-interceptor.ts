/**
 * Per-call authentication for the controller server, as a grpc-js server interceptor:
 *
 * - **Bearer token**: every call must carry `authorization: Bearer <token>`; the token is
 *   compared in constant time (SHA-256 of both sides, then `timingSafeEqual`).
 * - **Client certificate** (mutual TLS): the TLS layer requests a certificate but lets the
 *   handshake finish; the call is then refused unless the connection presented one that
 *   chains to the configured CA. Refusing here rather than in the handshake is what lets
 *   the client see UNAUTHENTICATED instead of an opaque UNAVAILABLE.
 *
 * Refusals are UNAUTHENTICATED. `grpc.health.v1.Health` is exempt from both checks so load
 * balancers and orchestrator probes can ask for the status without credentials (it tells
 * SERVING/NOT_SERVING and nothing else); reflection is not exempt.
 *
 * @example
 * ```ts
 * const server = new Server({ interceptors: [createAuthInterceptor({ token: 's3cret', requireClientCert: false })] });
 * ```
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import {
  ResponderBuilder,
  ServerInterceptingCall,
  ServerListenerBuilder,
  status as GrpcStatus,
  type Metadata,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
} from '@grpc/grpc-js';

/** Method-path prefixes that need no credentials. */
export const UNAUTHENTICATED_PREFIXES: readonly string[] = ['/grpc.health.v1.Health/'];

/** What the interceptor checks. */
export interface AuthPolicy {
  /** Expected bearer token; no token check when undefined. */
  readonly token?: string;
  /** Refuse calls on connections without a verified client certificate. */
  readonly requireClientCert: boolean;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Constant-time comparison of a presented token with the expected one. */
export function tokenMatches(presented: string, expectedDigest: Buffer): boolean {
  return timingSafeEqual(digest(presented), expectedDigest);
}

/** The bearer token in `authorization` metadata, or undefined. */
export function bearerToken(metadata: Metadata): string | undefined {
  const value = metadata.get('authorization')[0];
  if (typeof value !== 'string') return undefined;
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(value);
  return match ? match[1] : undefined;
}

/** Why a call is refused, or undefined when it may proceed. */
function refusal(policy: AuthPolicy, expectedDigest: Buffer | undefined, metadata: Metadata, call: ServerInterceptingCallInterface): string | undefined {
  if (policy.requireClientCert && call.getAuthContext().transportSecurityType !== 'ssl') {
    return 'a client certificate signed by the controller CA is required';
  }
  if (expectedDigest !== undefined) {
    const presented = bearerToken(metadata);
    if (presented === undefined) return 'missing bearer token (metadata "authorization: Bearer <token>")';
    if (!tokenMatches(presented, expectedDigest)) return 'invalid bearer token';
  }
  return undefined;
}

/** Builds the interceptor for `policy`; a no-op pass-through when the policy checks nothing. */
export function createAuthInterceptor(policy: AuthPolicy): ServerInterceptor {
  const expectedDigest = policy.token === undefined ? undefined : digest(policy.token);
  return (method, call) => {
    if (UNAUTHENTICATED_PREFIXES.some((p) => method.path.startsWith(p))) return new ServerInterceptingCall(call);
    const listener = new ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const reason = refusal(policy, expectedDigest, metadata, call);
        if (reason === undefined) next(metadata);
        else call.sendStatus({ code: GrpcStatus.UNAUTHENTICATED, details: reason });
      })
      .build();
    const responder = new ResponderBuilder().withStart((next) => next(listener)).build();
    return new ServerInterceptingCall(call, responder);
  };
}
