import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** PEM files made with the openssl CLI: a throwaway CA and server certificates it signs (ECDSA P-256). */
export interface TestCa {
  certificate: string;
  /** Issues a server certificate for these subjectAltNames (`DNS:localhost`, `IP:127.0.0.1`). */
  issue(altNames: string[]): { certificate: string; key: string };
  /** Deletes the CA's key and working files. */
  dispose(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function createTestCa(name = 'otpgate test CA'): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'otpgate-ca-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', `/CN=${name}`], dir);
  const certificate = readFileSync(join(dir, 'ca.crt'), 'utf8');
  let n = 0;
  return {
    certificate,
    issue(altNames) {
      n += 1;
      const base = `server${n}`;
      writeFileSync(join(dir, `${base}.ext`), `subjectAltName=${altNames.join(',')}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
      openssl(['req', ...ec, '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', '/CN=otpgate test server'], dir);
      openssl(
        ['x509', '-req', '-in', `${base}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${base}.crt`, '-days', '2', '-extfile', `${base}.ext`],
        dir,
      );
      return { certificate: readFileSync(join(dir, `${base}.crt`), 'utf8'), key: readFileSync(join(dir, `${base}.key`), 'utf8') };
    },
    dispose() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
