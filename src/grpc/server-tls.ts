/**
 * Server credentials from the controller's TLS options: plaintext, TLS, or TLS that asks
 * for a client certificate (mutual TLS). For mutual TLS the handshake accepts a missing or
 * unverified certificate and the auth interceptor refuses the call with UNAUTHENTICATED
 * (see `auth-interceptor.ts`); this uses grpc-js's certificate-provider credentials
 * (`experimental.createCertificateProviderServerCredentials`), fed by a static provider.
 *
 * @example
 * ```ts
 * const creds = serverCredentials({ cert, key, ca, requireClientCert: true });
 * server.bindAsync('0.0.0.0:50051', creds, cb);
 * ```
 */
import { experimental, ServerCredentials } from '@grpc/grpc-js';
import { InvalidArgumentError } from '../errors/catalog.ts';

/** PEM text or bytes. */
export type Pem = string | Buffer;

/** TLS for the controller server. */
export interface ServerTlsOptions {
  /** Server certificate chain (PEM). */
  readonly cert: Pem;
  /** Server private key (PEM). */
  readonly key: Pem;
  /** CA certificate(s) (PEM) that client certificates must chain to; required with `requireClientCert`. */
  readonly ca?: Pem;
  /** Refuse calls (UNAUTHENTICATED) from clients without a certificate signed by `ca`. */
  readonly requireClientCert?: boolean;
}

type CaListener = (update: { caCertificate: Buffer } | null) => void;
type IdentityListener = (update: { certificate: Buffer; privateKey: Buffer } | null) => void;

/**
 * A certificate provider whose material never changes. It answers a new listener on the
 * next microtask, not synchronously: grpc-js registers its own watcher only after adding
 * the listeners, and would miss a synchronous answer (the server would drop connections).
 */
class StaticCertificateProvider implements experimental.CertificateProvider {
  constructor(
    private readonly ca: Buffer | null,
    private readonly identity: { certificate: Buffer; privateKey: Buffer } | null,
  ) {}

  addCaCertificateListener(listener: CaListener): void {
    const update = this.ca === null ? null : { caCertificate: this.ca };
    queueMicrotask(() => listener(update));
  }

  removeCaCertificateListener(): void {}

  addIdentityCertificateListener(listener: IdentityListener): void {
    const update = this.identity;
    queueMicrotask(() => listener(update));
  }

  removeIdentityCertificateListener(): void {}
}

const toBuffer = (pem: Pem): Buffer => (typeof pem === 'string' ? Buffer.from(pem, 'utf8') : pem);

/** Credentials for `bindAsync`; insecure when `tls` is undefined. */
export function serverCredentials(tls: ServerTlsOptions | undefined): ServerCredentials {
  if (tls === undefined) return ServerCredentials.createInsecure();
  const cert = toBuffer(tls.cert);
  const key = toBuffer(tls.key);
  if (!tls.requireClientCert) {
    return ServerCredentials.createSsl(tls.ca === undefined ? null : toBuffer(tls.ca), [{ cert_chain: cert, private_key: key }], false);
  }
  if (tls.ca === undefined) throw new InvalidArgumentError('tls.requireClientCert needs tls.ca (the CA client certificates must chain to)');
  // One provider serves both roles: grpc-js 1.14 names the two parameters of this function
  // in the opposite order to the constructor it calls, so passing it twice is order-proof.
  const provider = new StaticCertificateProvider(toBuffer(tls.ca), { certificate: cert, privateKey: key });
  // requireClientCertificate = false: the handshake completes, the interceptor refuses the call.
  return experimental.createCertificateProviderServerCredentials(provider, provider, false);
}
