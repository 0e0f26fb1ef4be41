import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI_ACTOR } from '../src/index.js';
import { createFixture, type Fixture } from './store-fixture.js';

let f: Fixture;

beforeEach(async () => {
  f = await createFixture();
  f.services.clients.add({ name: 'gw', address: '192.0.2.1', secret: 'a-long-enough-secret' }, CLI_ACTOR);
  await f.services.users.add({ username: 'alice' }, CLI_ACTOR);
});
afterEach(() => f.close());

describe('VPN profiles of RADIUS clients', () => {
  it('an L2TP profile keeps its shared secret sealed at rest, shows admins only that one is set, and keeps it when saved without one', () => {
    f.services.vpnProfiles.set('gw', { display_name: 'Office', type: 'l2tp', server: 'vpn.example.test', shared_secret: 'psk-secret-1' }, CLI_ACTOR);
    expect(f.services.vpnProfiles.get('gw')).toMatchObject({ client: 'gw', type: 'l2tp', server: 'vpn.example.test', remote_id: '', shared_secret: 'psk-secret-1' });
    expect(f.services.vpnProfiles.view('gw')).toMatchObject({ has_shared_secret: true });
    expect(JSON.stringify(f.services.vpnProfiles.list())).not.toContain('psk-secret-1');
    const stored = f.store.db.first(f.store.db.q.selectFrom('vpn_profiles').select('shared_secret_sealed'));
    expect(stored?.shared_secret_sealed).toMatch(/^v1\./);
    expect(stored?.shared_secret_sealed).not.toContain('psk-secret-1');
    f.services.vpnProfiles.set('gw', { display_name: 'Office 2', type: 'l2tp', server: 'vpn.example.test' }, CLI_ACTOR);
    expect(f.services.vpnProfiles.get('gw')).toMatchObject({ display_name: 'Office 2', shared_secret: 'psk-secret-1' });
    const audit = f.store.db.all(f.store.db.q.selectFrom('admin_audit').selectAll().where('action', '=', 'client.vpn-profile'));
    expect(audit).toHaveLength(2);
    expect(JSON.stringify(audit)).not.toContain('psk-secret-1');
  });

  it('refuses L2TP without a secret, IKEv2 with one, a server with a scheme, and a client that does not exist', () => {
    expect(() => f.services.vpnProfiles.set('gw', { display_name: 'x', type: 'l2tp', server: 'vpn.example.test' }, CLI_ACTOR)).toThrow(/shared secret/);
    expect(() => f.services.vpnProfiles.set('gw', { display_name: 'x', type: 'ikev2', server: 'vpn.example.test', shared_secret: 'psk-secret-1' }, CLI_ACTOR)).toThrow(/no shared secret/);
    expect(() => f.services.vpnProfiles.set('gw', { display_name: 'x', type: 'ikev2', server: 'https://vpn.example.test' }, CLI_ACTOR)).toThrow(/host name or an IP address/);
    expect(() => f.services.vpnProfiles.set('nope', { display_name: 'x', type: 'ikev2', server: 'vpn.example.test' }, CLI_ACTOR)).toThrow(/nope/);
    expect(f.services.vpnProfiles.list()).toEqual([]);
  });

  it('goes with its client, and can be removed on its own', () => {
    f.services.vpnProfiles.set('gw', { display_name: 'Office', type: 'ikev2', server: '2001:db8::1', remote_id: 'vpn.example.test' }, CLI_ACTOR);
    expect(f.services.vpnProfiles.list().map((p) => p.client)).toEqual(['gw']);
    f.services.vpnProfiles.remove('gw', CLI_ACTOR);
    expect(f.services.vpnProfiles.get('gw')).toBeUndefined();
    f.services.vpnProfiles.set('gw', { display_name: 'Office', type: 'ikev2', server: 'vpn.example.test' }, CLI_ACTOR);
    f.services.clients.remove('gw', CLI_ACTOR);
    f.services.clients.add({ name: 'gw', address: '192.0.2.1', secret: 'a-long-enough-secret' }, CLI_ACTOR);
    expect(f.services.vpnProfiles.get('gw')).toBeUndefined();
  });

  it('a credential is live for its user until it is used or expires', () => {
    const issued = f.services.vpnCredentials.issue({ username: 'alice', client: 'gw', ttlSeconds: 60, issuedBy: 'passkey' });
    expect(f.services.vpnCredentials.isLive('alice', issued.password)).toBe(true);
    expect(f.services.vpnCredentials.isLive('alice', 'vpn-aaaaaaaaaaaaaaaaaaaaaaaa')).toBe(false);
    f.store.state.run(f.store.state.q.updateTable('vpn_credentials').set({ used_at: Date.now(), used_by: 'test' }));
    expect(f.services.vpnCredentials.isLive('alice', issued.password)).toBe(false);
  });
});
