import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ldapBackendSchema } from '@otpgate/shared';
import { ConnectionPool } from '../src/backends/ldap/ldap-pool.js';
import { LdapConnection, parseServerUrl } from '../src/backends/ldap/ldap-connection.js';
import { ADMIN_DN, ADMIN_PASSWORD, PEOPLE_DN, bulkUser, startSlapd, type Slapd } from './helpers/slapd.js';
import { createTestCa, type TestCa } from './helpers/tls-certs.js';

interface Fake {
  id: number;
  pending: boolean;
}

function fakePool(options: { max: number; share: number; preferred?: (c: Fake) => boolean }) {
  let next = 0;
  return new ConnectionPool<Fake>({
    label: 'test',
    acquireTimeoutMs: 1000,
    create: () => Promise.resolve({ id: next++, pending: false }),
    alive: () => true,
    destroy: () => Promise.resolve(),
    ...options,
  });
}

describe('connection pool: preferred connections', () => {
  it('without a preference a pool that may grow opens a new connection rather than share a busy one', async () => {
    const pool = fakePool({ max: 4, share: 8 });
    const a = await pool.acquire();
    const b = await pool.acquire();
    expect(b.conn.id).not.toBe(a.conn.id);
    expect(pool.size).toBe(2);
  });

  it('shares a preferred connection (requests waiting to be written) before opening another', async () => {
    const pool = fakePool({ max: 4, share: 3, preferred: (c) => c.pending });
    const a = await pool.acquire();
    a.conn.pending = true;
    const b = await pool.acquire();
    const c = await pool.acquire();
    expect([b.conn.id, c.conn.id]).toEqual([a.conn.id, a.conn.id]);
    expect(pool.size).toBe(1);
    // full (share reached): the next one gets a connection of its own
    const d = await pool.acquire();
    expect(d.conn.id).not.toBe(a.conn.id);
    // no longer preferred once its requests are written: an idle connection is taken first again
    a.conn.pending = false;
    pool.release(d, true);
    const e = await pool.acquire();
    expect(e.conn.id).toBe(d.conn.id);
  });

  it('never prefers a connection used for binds (share 1)', async () => {
    const pool = fakePool({ max: 2, share: 1, preferred: () => true });
    const a = await pool.acquire();
    const b = await pool.acquire();
    expect(b.conn.id).not.toBe(a.conn.id);
  });
});

describe('coalesced writes on a search connection', () => {
  let ca: TestCa;
  let slapd: Slapd;
  beforeAll(async () => {
    ca = createTestCa();
    slapd = await startSlapd({ tls: { caCertificate: ca.certificate, ...ca.issue(['DNS:localhost', 'IP:127.0.0.1']) }, bulkUsers: 40 });
  }, 30_000);
  afterAll(async () => {
    await slapd?.stop();
    ca?.dispose();
  });

  const cases = [
    ['plain LDAP', () => ({ url: slapd.url, start_tls: false })],
    ['StartTLS', () => ({ url: slapd.url, start_tls: true })],
    ['LDAPS', () => ({ url: slapd.ldapsUrl!, start_tls: false })],
  ] as const;

  it.each(cases)('%s: the searches of one turn leave together, each gets its own answer', async (_name, target) => {
    const { url, start_tls } = target();
    const settings = ldapBackendSchema.parse({ type: 'ldap', name: 'l', servers: [url], start_tls, ca_certificates: ca.certificate, timeout_ms: 2000 });
    const conn = await LdapConnection.open(parseServerUrl(url), settings, { coalesceWrites: true });
    try {
      await conn.client.bind(ADMIN_DN, ADMIN_PASSWORD);
      expect(conn.writesPending).toBe(false);
      const uids = Array.from({ length: 40 }, (_, i) => bulkUser(39 - i).uid);
      const searches = uids.map((uid) => conn.client.search(PEOPLE_DN, { scope: 'sub', filter: `(uid=${uid})`, attributes: ['uid'] }));
      // ldapts writes after a microtask or two: by the end of this turn's microtasks the batch is waiting
      await Promise.resolve();
      await new Promise<void>((r) => queueMicrotask(r));
      const results = await Promise.all(searches);
      expect(results.map((r) => r.searchEntries.map((e) => e.uid))).toEqual(uids.map((u) => [u]));
      await new Promise((r) => setImmediate(r));
      expect(conn.writesPending).toBe(false);
    } finally {
      await conn.close();
    }
  });

  it('a batch is pending only until the check phase of the turn that wrote it', async () => {
    const settings = ldapBackendSchema.parse({ type: 'ldap', name: 'l', servers: [slapd.url], timeout_ms: 2000 });
    const conn = await LdapConnection.open(parseServerUrl(slapd.url), settings, { coalesceWrites: true });
    try {
      const bound = conn.client.bind(ADMIN_DN, ADMIN_PASSWORD);
      for (let i = 0; i < 5 && !conn.writesPending; i++) await Promise.resolve();
      expect(conn.writesPending).toBe(true);
      await new Promise((r) => setImmediate(r));
      expect(conn.writesPending).toBe(false);
      await bound;
    } finally {
      await conn.close();
    }
  });
});
