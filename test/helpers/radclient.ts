import { spawn } from 'node:child_process';

export interface RadReply {
  /** Access-Accept, Access-Reject, Access-Challenge, or "no-reply" when the server stayed silent. */
  code: string;
  attributes: Map<string, string[]>;
  output: string;
}

/**
 * FreeRADIUS's radclient against a server on loopback. `attributes` are radclient's input lines ("Name = value").
 * Retries and timeout are short: a dropped request should fail fast.
 */
export function radclient(
  target: string,
  secret: string,
  attributes: string[],
  options: { type?: 'auth' | 'status'; timeoutSeconds?: number; retries?: number } = {},
): Promise<RadReply> {
  return new Promise((resolve, reject) => {
    const args = ['-x', '-r', String(options.retries ?? 1), '-t', String(options.timeoutSeconds ?? 1.5), target, options.type ?? 'auth', secret];
    const child = spawn('radclient', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(parseReply(output)));
    child.stdin.end(attributes.join('\n') + '\n');
  });
}

function parseReply(output: string): RadReply {
  const lines = output.split('\n');
  const at = lines.findIndex((l) => l.startsWith('Received '));
  if (at < 0) return { code: 'no-reply', attributes: new Map(), output };
  const code = /^Received (\S+)/.exec(lines[at]!)![1]!;
  const attributes = new Map<string, string[]>();
  for (const line of lines.slice(at + 1)) {
    const m = /^\t(\S+) = (.*)$/.exec(line);
    if (!m) break;
    attributes.set(m[1]!, [...(attributes.get(m[1]!) ?? []), m[2]!.replace(/^"(.*)"$/, '$1')]);
  }
  return { code, attributes, output };
}

/** radclient input for a PAP Access-Request, with Message-Authenticator unless told otherwise. */
export function papRequest(user: string, password: string, extra: string[] = [], messageAuthenticator = true): string[] {
  return [`User-Name = "${user}"`, `User-Password = "${password}"`, ...(messageAuthenticator ? ['Message-Authenticator = 0x00'] : []), ...extra];
}
