import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OtpgateError } from '@otpgate/shared';

/** Where a node keeps its cluster credentials: DATA_DIR/cluster/. Private keys are mode 0600. */
export const CLUSTER_FILES = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  serverCert: 'server.crt',
  serverKey: 'server.key',
  clientCert: 'client.crt',
  clientKey: 'client.key',
  feedPrivateKey: 'feed-signing.jwk',
  feedPublicKey: 'feed-public.jwk',
} as const;
export type ClusterFile = keyof typeof CLUSTER_FILES;

const PRIVATE: ReadonlySet<ClusterFile> = new Set(['caKey', 'serverKey', 'clientKey', 'feedPrivateKey']);

export class ClusterSetupError extends OtpgateError {
  constructor(message: string) {
    super('cluster-setup', message);
  }
}

export class ClusterFiles {
  readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'cluster');
  }

  path(file: ClusterFile): string {
    return join(this.dir, CLUSTER_FILES[file]);
  }

  has(file: ClusterFile): boolean {
    return existsSync(this.path(file));
  }

  read(file: ClusterFile): string {
    try {
      return readFileSync(this.path(file), 'utf8');
    } catch {
      throw new ClusterSetupError(`missing ${this.path(file)}: run "otpgate cluster init" on the master, or "otpgate replica join" here`);
    }
  }

  write(file: ClusterFile, content: string): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeFileSync(this.path(file), content, { mode: PRIVATE.has(file) ? 0o600 : 0o644 });
  }
}
