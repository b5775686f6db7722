/** A CA made with openssl for one test: a server certificate for 127.0.0.1 (and its key's pin) and a client certificate. */
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './fixtures.js';

export function testCa() {
  const dir = tempDir();
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const key = (name: string) => ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', name + '.key'];
  run('req', '-x509', ...key('ca'), '-out', 'ca.pem', '-days', '2', '-subj', '/CN=ota test CA');
  const sign = (name: string, cn: string, ext: string) => {
    run('req', ...key(name), '-out', name + '.csr', '-subj', '/CN=' + cn);
    writeFileSync(join(dir, name + '.cnf'), ext + '\n');
    run('x509', '-req', '-in', name + '.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', name + '.pem', '-days', '2', '-extfile', name + '.cnf');
  };
  sign('server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1');
  sign('client', 'dev1', 'extendedKeyUsage=clientAuth');
  const cert = readFileSync(join(dir, 'server.pem'), 'utf8');
  const spki = new X509Certificate(cert).publicKey.export({ type: 'spki', format: 'der' });
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    cert,
    key: readFileSync(join(dir, 'server.key'), 'utf8'),
    pin: createHash('sha256').update(spki).digest('base64'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
  };
}
