import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNode } from './helpers/test-node.js';
import { papRequest, radclient } from './helpers/radclient.js';
import { eventually } from './helpers/eventually.js';

const SECRET = 'testing123';

/**
 * One-time VPN credentials end to end (issue 16): issued on the master, used with radclient (PAP) on the master or a
 * replica, once in the whole cluster, until they expire; the auth log names the method.
 */
describe('one-time VPN credentials over RADIUS, master and replica', () => {
  let master: TestNode;
  let replica: TestNode;

  beforeAll(async () => {
    master = await TestNode.createMaster('vpn-master');
    await master.addClient('local', '127.0.0.1', SECRET);
    await master.addClient('elsewhere', '192.0.2.9', 'another-secret-1');
    await master.addUserWithToken('alice', 'alice-password');
    await master.cliOk('user', 'add', 'carol', '--no-password');
    await master.start();
    replica = await TestNode.createReplica('vpn-replica', master);
    await replica.start();
    await replica.waitForLog((l) => l.event === 'replication-snapshot');
  }, 180_000);
  afterAll(async () => {
    await Promise.all([master?.stop(), replica?.stop()]);
  });

  async function issue(username: string, ...options: string[]): Promise<{ username: string; password: string; expires_at: string }> {
    const issued = JSON.parse(await master.cliOk('vpn-credential', 'issue', username, '--json', ...options)) as { username: string; password: string; expires_at: string };
    master.noteSecret(issued.password);
    return issued;
  }

  const login = (node: TestNode, username: string, password: string) => radclient(node.target, SECRET, papRequest(username, password));

  it('issued on the master, accepted once there; a second use is rejected as a replay; the auth log says vpn-credential', async () => {
    const { username, password } = await issue('alice');
    expect(password).toMatch(/^vpn-[a-z2-7]{24}$/);
    let mark = await master.mark();
    expect((await login(master, username, password)).code).toBe('Access-Accept');
    expect(await master.authAfter(mark, 'alice')).toMatchObject({ result: 'accept', policy: 'vpn-credential', backend: 'admin' });
    mark = await master.mark();
    expect((await login(master, username, password)).code).toBe('Access-Reject');
    expect(await master.authAfter(mark, 'alice')).toMatchObject({ result: 'reject', reason: 'replay' });
    await eventually(
      'the audit rows',
      async () => {
        const rows = JSON.parse(await master.cliOk('authlog', '--user', 'alice', '--json')) as Array<{ result: string; policy: string | null; reason: string | null }>;
        return rows.some((r) => r.result === 'accept' && r.policy === 'vpn-credential') && rows.some((r) => r.reason === 'replay');
      },
      5000,
    );
  });

  it('used on a replica the moment it is issued, then refused on the replica and on the master', async () => {
    const { password } = await issue('carol');
    const mark = await replica.mark();
    expect((await login(replica, 'carol', password)).code).toBe('Access-Accept');
    expect(await replica.authAfter(mark, 'carol')).toMatchObject({ result: 'accept', policy: 'vpn-credential' });
    expect((await login(replica, 'carol', password)).code).toBe('Access-Reject');
    expect((await login(master, 'carol', password)).code).toBe('Access-Reject');
  });

  it('used on the master, then refused on a replica', async () => {
    const { password } = await issue('alice');
    expect((await login(master, 'alice', password)).code).toBe('Access-Accept');
    const mark = await replica.mark();
    expect((await login(replica, 'alice', password)).code).toBe('Access-Reject');
    expect(await replica.authAfter(mark, 'alice')).toMatchObject({ reason: 'replay' });
  });

  it('an expired credential is refused on both nodes', async () => {
    const { password, expires_at } = await issue('alice', '--seconds', '1');
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(expires_at) - Date.now()) + 100));
    for (const node of [replica, master]) {
      const mark = await node.mark();
      expect((await login(node, 'alice', password)).code).toBe('Access-Reject');
      expect(await node.authAfter(mark, 'alice')).toMatchObject({ reason: 'credential-expired' });
    }
  });

  it('a credential bound to another RADIUS client is refused through this one', async () => {
    const { password } = await issue('alice', '--client', 'elsewhere');
    const mark = await master.mark();
    expect((await login(master, 'alice', password)).code).toBe('Access-Reject');
    expect(await master.authAfter(mark, 'alice')).toMatchObject({ reason: 'not-permitted' });
  });
});
