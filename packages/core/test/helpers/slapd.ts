import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Attribute, Change, Client } from 'ldapts';
import { freePort } from './tcp.js';

/**
 * A throwaway OpenLDAP (Debian slapd) in a temp directory on free 127.0.0.1 ports, seeded with the users and groups
 * below; optionally with TLS (StartTLS on the ldap:// port, and an ldaps:// port). Stop it in afterAll.
 */

export const BASE_DN = 'dc=example,dc=com';
export const PEOPLE_DN = `ou=people,${BASE_DN}`;
export const GROUPS_DN = `ou=groups,${BASE_DN}`;
export const ADMIN_DN = `cn=admin,${BASE_DN}`;
export const ADMIN_PASSWORD = 'adminpw';

export interface SeedUser {
  uid: string;
  password: string;
  /** Under ou=people unless set (an ou name). */
  ou?: string;
  /** AD lookalike attributes (a test schema gives slapd userAccountControl and the computed attribute). */
  uac?: number;
  computed?: number;
}

/** Every user's DN-escaped RDN value is written by hand here: these names are the point of some tests. */
export const USERS: readonly SeedUser[] = [
  { uid: 'alice', password: 'alice-secret' },
  { uid: 'bob', password: 'bob-secret' },
  { uid: 'carol', password: 'carol-secret' },
  { uid: 'star*user', password: 'star-secret' },
  { uid: 'comma,user', password: 'comma-secret' },
  { uid: 'dup', password: 'dup-secret' },
  { uid: 'dup', password: 'dup-secret', ou: 'staff' },
  // Active Directory lookalikes: 0x200 normal, 0x202 disabled; computed 0x10 locked, 0x800000 password expired
  { uid: 'grace', password: 'grace-secret', uac: 0x200, computed: 0 },
  { uid: 'dave', password: 'dave-secret', uac: 0x202, computed: 0 },
  { uid: 'erin', password: 'erin-secret', uac: 0x200, computed: 0x10 },
  { uid: 'frank', password: 'frank-secret', uac: 0x200, computed: 0x800000 },
];

/** group cn -> member uids (groupOfNames under ou=groups; the memberof overlay fills memberOf). */
export const GROUPS: Readonly<Record<string, readonly string[]>> = {
  vpn: ['alice', 'bob'],
  admins: ['alice'],
  'Sales Team': ['carol'],
};

export function bulkUser(i: number): SeedUser {
  return { uid: `user${i}`, password: `Pw-${i}-bench` };
}

export function userDn(u: Pick<SeedUser, 'uid' | 'ou'>): string {
  const rdn = u.uid.replace(/[,+"\\<>;=]/g, (c) => `\\${c}`);
  return `uid=${rdn},ou=${u.ou ?? 'people'},${BASE_DN}`;
}

export interface SlapdTls {
  caCertificate: string;
  certificate: string;
  key: string;
  /** Extra addresses the ldaps:// port also listens on (e.g. 127.0.0.2 for a name not in the certificate). */
  extraLdapsHosts?: string[];
}

export interface SlapdOptions {
  tls?: SlapdTls;
  /** Also add user0..user{n-1} (password Pw-i-bench), as the bench does. */
  bulkUsers?: number;
}

export interface Slapd {
  /** ldap://127.0.0.1:port (StartTLS available when started with tls). */
  url: string;
  port: number;
  /** ldaps://127.0.0.1:port when started with tls. */
  ldapsUrl?: string;
  ldapsPort?: number;
  stop(): Promise<void>;
}

const AD_SCHEMA = `
attributetype ( 1.2.840.113556.1.4.8 NAME 'userAccountControl'
  EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.1460 NAME 'msDS-User-Account-Control-Computed'
  EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.4203.666.11.99.1 NAME 'otpgateTestAdAccount' SUP top AUXILIARY
  MAY ( userAccountControl $ msDS-User-Account-Control-Computed ) )
`;

function userLdif(u: SeedUser): string {
  const ad = u.uac !== undefined;
  return [
    `dn: ${userDn(u)}`,
    'objectClass: inetOrgPerson',
    ...(ad ? ['objectClass: otpgateTestAdAccount', `userAccountControl: ${u.uac}`, `msDS-User-Account-Control-Computed: ${u.computed ?? 0}`] : []),
    `uid: ${u.uid}`,
    `cn: ${u.uid}`,
    `sn: ${u.uid}`,
    `userPassword: ${u.password}`,
    '',
    '',
  ].join('\n');
}

function seedLdif(bulk: number): string {
  let out =
    `dn: ${BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n` +
    `dn: ${PEOPLE_DN}\nobjectClass: organizationalUnit\nou: people\n\n` +
    `dn: ou=staff,${BASE_DN}\nobjectClass: organizationalUnit\nou: staff\n\n` +
    `dn: ${GROUPS_DN}\nobjectClass: organizationalUnit\nou: groups\n\n`;
  for (const u of USERS) out += userLdif(u);
  for (let i = 0; i < bulk; i++) out += userLdif(bulkUser(i));
  return out;
}

function slapdConf(dir: string, tls: SlapdTls | undefined): string {
  return [
    'include /etc/ldap/schema/core.schema',
    'include /etc/ldap/schema/cosine.schema',
    'include /etc/ldap/schema/inetorgperson.schema',
    'include /etc/ldap/schema/nis.schema',
    `include ${dir}/ad-lookalike.schema`,
    'modulepath /usr/lib/ldap',
    'moduleload back_mdb',
    'moduleload memberof',
    `pidfile ${dir}/slapd.pid`,
    ...(tls
      ? [`TLSCACertificateFile ${dir}/ca.crt`, `TLSCertificateFile ${dir}/server.crt`, `TLSCertificateKeyFile ${dir}/server.key`]
      : []),
    'database mdb',
    'maxsize 104857600',
    `suffix "${BASE_DN}"`,
    `rootdn "${ADMIN_DN}"`,
    `rootpw ${ADMIN_PASSWORD}`,
    `directory ${dir}/db`,
    // without these every subtree search scans the whole tree
    'index objectClass eq',
    'index uid eq',
    'index member eq',
    'overlay memberof',
    '',
  ].join('\n');
}

async function waitUntilUp(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const until = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`slapd exited with ${child.exitCode}: ${log()}`);
    const c = new Client({ url, connectTimeout: 500, timeout: 1000 });
    try {
      await c.search('', { scope: 'base', attributes: ['namingContexts'] });
      return;
    } catch {
      if (Date.now() > until) throw new Error(`slapd did not answer on ${url}: ${log()}`);
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      await c.unbind().catch(() => undefined);
    }
  }
}

async function addGroups(url: string): Promise<void> {
  const c = new Client({ url, timeout: 5000 });
  try {
    await c.bind(ADMIN_DN, ADMIN_PASSWORD);
    for (const [cn, members] of Object.entries(GROUPS)) {
      await c.add(`cn=${cn},${GROUPS_DN}`, { objectClass: 'groupOfNames', cn, member: members.map((uid) => userDn({ uid })) });
    }
  } finally {
    await c.unbind();
  }
}

/**
 * Make a seeded group's members these users, as a directory admin would (the memberof overlay updates the users'
 * memberOf). A groupOfNames needs a member, so taking one out is a replace with the others.
 */
export async function setGroupMembers(slapd: Pick<Slapd, 'url'>, cn: string, uids: readonly string[]): Promise<void> {
  const c = new Client({ url: slapd.url, timeout: 5000 });
  try {
    await c.bind(ADMIN_DN, ADMIN_PASSWORD);
    const members = new Attribute({ type: 'member', values: uids.map((uid) => userDn({ uid })) });
    await c.modify(`cn=${cn},${GROUPS_DN}`, new Change({ operation: 'replace', modification: members }));
  } finally {
    await c.unbind();
  }
}

export async function startSlapd(options: SlapdOptions = {}): Promise<Slapd> {
  const dir = mkdtempSync(join(tmpdir(), 'otpgate-slapd-'));
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'db'));
  writeFileSync(join(dir, 'ad-lookalike.schema'), AD_SCHEMA);
  writeFileSync(join(dir, 'slapd.conf'), slapdConf(dir, options.tls));
  writeFileSync(join(dir, 'seed.ldif'), seedLdif(options.bulkUsers ?? 0));
  if (options.tls) {
    writeFileSync(join(dir, 'ca.crt'), options.tls.caCertificate);
    writeFileSync(join(dir, 'server.crt'), options.tls.certificate);
    writeFileSync(join(dir, 'server.key'), options.tls.key, { mode: 0o600 });
  }
  execFileSync('/usr/sbin/slapadd', ['-f', join(dir, 'slapd.conf'), '-l', join(dir, 'seed.ldif'), '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });

  const port = await freePort();
  const ldapsPort = options.tls ? await freePort() : undefined;
  const urls = [`ldap://127.0.0.1:${port}/`];
  if (ldapsPort) {
    for (const host of ['127.0.0.1', ...(options.tls?.extraLdapsHosts ?? [])]) urls.push(`ldaps://${host}:${ldapsPort}/`);
  }
  // -d 0: stay in the foreground (a child we can kill) and log nothing but errors
  const child = spawn('/usr/sbin/slapd', ['-f', join(dir, 'slapd.conf'), '-h', urls.join(' '), '-d', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `ldap://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntilUp(url, child, () => stderr);
    await addGroups(url);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    port,
    ...(ldapsPort ? { ldapsUrl: `ldaps://127.0.0.1:${ldapsPort}`, ldapsPort } : {}),
    stop,
  };
}
