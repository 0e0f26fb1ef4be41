import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** One secret found in one log line, and in which form (the secret itself is never printed whole). */
export interface Finding {
  file: string;
  line: number;
  form: string;
  secret: string;
}

/** Shorter strings would match ordinary words and numbers; no test uses a secret this short. */
const MIN_SECRET_LENGTH = 6;
const BASE32 = /^[A-Z2-7]{16,}=*$/;

function base32Bytes(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of text.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const bytes: number[] = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/**
 * The ways a secret could show up in a log line: as it is, JSON-escaped, URL-encoded, as hex or base64 of its bytes
 * (a Buffer logged by mistake), and for a base32 token seed also the key bytes it stands for.
 */
export function secretForms(secret: string): Array<[form: string, text: string]> {
  const bytes = Buffer.from(secret, 'utf8');
  const forms: Array<[string, string]> = [
    ['plain', secret],
    ['json', JSON.stringify(secret).slice(1, -1)],
    ['url', encodeURIComponent(secret)],
    ['hex', bytes.toString('hex')],
    ['base64', bytes.toString('base64').replace(/=+$/, '')],
  ];
  if (BASE32.test(secret)) {
    const key = base32Bytes(secret);
    forms.push(['key-hex', key.toString('hex')], ['key-base64', key.toString('base64').replace(/=+$/, '')]);
  }
  return forms.filter(([, text], i, all) => all.findIndex(([, t]) => t === text) === i);
}

function mask(secret: string): string {
  return `${secret.slice(0, 3)}…(${secret.length} chars)`;
}

/** Every line of every file that holds any of the secrets in any form; case-insensitive for the hex forms. */
export function scanForSecrets(files: readonly string[], secrets: Iterable<string>): Finding[] {
  const patterns = [...new Set(secrets)]
    .filter((s) => s.length >= MIN_SECRET_LENGTH)
    .flatMap((secret) => secretForms(secret).map(([form, text]) => ({ secret, form, needle: form.includes('hex') ? text.toLowerCase() : text })));
  const findings: Finding[] = [];
  for (const file of files) {
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((text, i) => {
      const lower = text.toLowerCase();
      for (const p of patterns) {
        if ((p.form.includes('hex') ? lower : text).includes(p.needle)) findings.push({ file, line: i + 1, form: p.form, secret: mask(p.secret) });
      }
    });
  }
  return findings;
}

/** Every *.log file below `root`. */
export function logFilesUnder(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, encoding: 'utf8' })
    .map((rel) => join(root, rel))
    .filter((path) => path.endsWith('.log') && statSync(path).isFile());
}

/** The secrets each node folder noted (TestNode.noteSecret), over every folder below `root`. */
export function notedSecrets(root: string, fileName: string): Set<string> {
  const secrets = new Set<string>();
  if (!existsSync(root)) return secrets;
  for (const rel of readdirSync(root, { recursive: true, encoding: 'utf8' })) {
    if (!rel.endsWith(fileName)) continue;
    for (const s of JSON.parse(readFileSync(join(root, rel), 'utf8')) as string[]) secrets.add(s);
  }
  return secrets;
}
