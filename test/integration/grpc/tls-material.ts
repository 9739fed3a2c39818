import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  caCert: Buffer;
  serverCert: Buffer;
  serverKey: Buffer;
  clientCert: Buffer;
  clientKey: Buffer;
  rogueCaCert: Buffer;
  rogueClientCert: Buffer;
  rogueClientKey: Buffer;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function newKeyAndCsr(dir: string, name: string, cn: string): void {
  openssl(dir, ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
}

function newCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
}

function sign(dir: string, name: string, ca: string, extensions: string): void {
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '1', '-out', `${name}.crt`, '-extfile', `${name}.ext`]);
}

/** A CA, a server certificate for 127.0.0.1/localhost, a client certificate, and a client certificate from another CA; the temp dir is removed before returning. */
export function generateTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'nfvkit-grpc-tls-'));
  try {
    newCa(dir, 'ca');
    newCa(dir, 'rogue-ca');
    newKeyAndCsr(dir, 'server', 'localhost');
    sign(dir, 'server', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
    newKeyAndCsr(dir, 'client', 'nfvkit-cli');
    sign(dir, 'client', 'ca', 'extendedKeyUsage=clientAuth\n');
    newKeyAndCsr(dir, 'rogue-client', 'nfvkit-cli');
    sign(dir, 'rogue-client', 'rogue-ca', 'extendedKeyUsage=clientAuth\n');
    const read = (f: string): Buffer => readFileSync(join(dir, f));
    return {
      caCert: read('ca.crt'),
      serverCert: read('server.crt'),
      serverKey: read('server.key'),
      clientCert: read('client.crt'),
      clientKey: read('client.key'),
      rogueCaCert: read('rogue-ca.crt'),
      rogueClientCert: read('rogue-client.crt'),
      rogueClientKey: read('rogue-client.key'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
