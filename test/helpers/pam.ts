import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * A throwaway PAM service that authenticates with Debian's pam_radius_auth against the given servers, in order, the
 * way a Linux box with a primary and a secondary RADIUS server is set up. Needs root (it writes /etc/pam.d/).
 */
export class PamService {
  readonly name = `otpgate-e2e-${randomBytes(4).toString('hex')}`;
  private readonly confPath: string;

  constructor(dir: string, servers: Array<{ host: string; port: number; secret: string; timeout: number }>) {
    this.confPath = join(dir, `${this.name}.conf`);
    writeFileSync(this.confPath, servers.map((s) => `${s.host}:${s.port}\t${s.secret}\t${s.timeout}`).join('\n') + '\n', { mode: 0o600 });
    writeFileSync(join('/etc/pam.d', this.name), `auth required pam_radius_auth.so conf=${this.confPath}\naccount required pam_permit.so\n`);
  }

  /** pamtester USER authenticate, typing `password` at the prompt; true when PAM says yes. */
  authenticate(user: string, password: string): Promise<{ ok: boolean; output: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn('pamtester', ['-v', this.name, user, 'authenticate'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ ok: code === 0, output }));
      child.stdin.end(`${password}\n`);
    });
  }

  remove(): void {
    rmSync(join('/etc/pam.d', this.name), { force: true });
    rmSync(this.confPath, { force: true });
  }
}

export const canRunPam = process.getuid?.() === 0;
