import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNode } from './helpers/test-node.js';
import { papRequest, radclient } from './helpers/radclient.js';
import { awaitFreshStep, totpCode, wrongCode } from './helpers/otp.js';
import { RawClient, accessRequest } from './helpers/raw-radius.js';

const SECRET = 'testing123';

describe('RADIUS server with radclient (password + TOTP, local passwords)', () => {
  let node: TestNode;
  const secrets: Record<string, string> = {};

  beforeAll(async () => {
    node = await TestNode.create('radius', { listen: ['127.0.0.1:0', '[::1]:0'] });
    await node.addClient('local', '127.0.0.1', SECRET);
    await node.addClient('local6', '::1', SECRET);
    await node.addClient('pam-box', '127.0.0.3', SECRET, '--no-require-message-authenticator');
    await node.cliOk('group', 'add', 'vpn', '--attr', 'Filter-Id=vpn-users', '--attr', 'Fortinet-Group-Name=forti-vpn', '--attr', 'Class=0x636c617373');
    secrets.alice = await node.addUserWithToken('alice', 'alice-password', '--group', 'vpn', '--attr', 'Session-Timeout=3600');
    secrets.bob = await node.addUserWithToken('bob', 'bob-password', '--mode', 'challenge');
    secrets.carol = await node.addUserWithToken('carol', 'carol-password', '--mode', 'code-only');
    secrets.dave = await node.addUserWithToken('dave', 'dave-password');
    secrets.erin = await node.addUserWithToken('erin', 'erin-password');
    secrets.long = await node.addUserWithToken('longpw', 'p'.repeat(100));
    await node.start();
  });
  afterAll(async () => {
    await node?.stop();
  });

  it('accepts password+code with Message-Authenticator first and the reply attributes of group and user', async () => {
    await awaitFreshStep();
    const reply = await radclient(node.target, SECRET, papRequest('alice', `alice-password${totpCode(secrets.alice!)}`));
    expect(reply.code).toBe('Access-Accept');
    expect([...reply.attributes.keys()][0]).toBe('Message-Authenticator');
    expect(reply.attributes.get('Filter-Id')).toEqual(['vpn-users']);
    expect(reply.attributes.get('Session-Timeout')).toEqual(['3600']);
    expect(reply.attributes.get('Class')).toEqual(['0x636c617373']);
    // radclient shows vendor attributes it knows by name
    expect(reply.output).toMatch(/Fortinet-Group-Name = "forti-vpn"/);
  });

  it('rejects a replayed code, a wrong code and a wrong password, logging each reason', async () => {
    await awaitFreshStep();
    const code = totpCode(secrets.dave!);
    expect((await radclient(node.target, SECRET, papRequest('dave', `dave-password${code}`))).code).toBe('Access-Accept');
    expect((await radclient(node.target, SECRET, papRequest('dave', `dave-password${code}`))).code).toBe('Access-Reject');
    expect((await radclient(node.target, SECRET, papRequest('dave', `dave-password${wrongCode(secrets.dave!)}`))).code).toBe('Access-Reject');
    expect((await radclient(node.target, SECRET, papRequest('dave', `not-the-password${totpCode(secrets.dave!, 1)}`))).code).toBe('Access-Reject');
    const last = await node.mark();
    expect((await radclient(node.target, SECRET, papRequest('nobody', `whatever${code}`))).code).toBe('Access-Reject');
    await node.authAfter(last, 'nobody'); // the log is in order: the earlier lines are there too
    const reasons = node.authLines().filter((l) => l.user === 'dave' || l.user === 'nobody').map((l) => l.reason);
    expect(reasons).toEqual([null, 'replay', 'bad-code', 'bad-password', 'unknown-user']);
  });

  it('answers a byte-identical retransmission from the cache: both Access-Accept, one code consumed', async () => {
    await awaitFreshStep();
    const client = await RawClient.open();
    try {
      const packet = accessRequest({ identifier: 42, username: 'erin', password: `erin-password${totpCode(secrets.erin!)}`, secret: SECRET });
      client.send(packet, node.port);
      const first = await client.next();
      client.send(packet, node.port);
      const second = await client.next();
      expect(first?.[0]).toBe(2);
      expect(second).toEqual(first);
      // the log line may trail the answer a little: wait for it, then give a second one time to show up
      await node.waitForLog((l) => l.event === 'auth' && l.user === 'erin');
      await new Promise((r) => setTimeout(r, 300));
      expect(node.authLines().filter((l) => l.user === 'erin')).toHaveLength(1);
    } finally {
      client.close();
    }
  });

  it('accepts a User-Password longer than 16 bytes (100-character password + code)', async () => {
    await awaitFreshStep();
    const reply = await radclient(node.target, SECRET, papRequest('longpw', `${'p'.repeat(100)}${totpCode(secrets.long!)}`));
    expect(reply.code).toBe('Access-Accept');
  });

  it('drops requests without Message-Authenticator from a client that must send it, and says why', async () => {
    await awaitFreshStep();
    const reply = await radclient(node.target, SECRET, papRequest('alice', `alice-password${totpCode(secrets.alice!)}`, [], false));
    expect(reply.code).toBe('no-reply');
    const line = await node.waitForLog((l) => l.cause === 'missing-message-authenticator');
    expect(String(line.detail)).toMatch(/require_message_authenticator/);
  });

  it('drops a wrong Message-Authenticator and packets from unknown clients', async () => {
    const bad = await RawClient.open();
    const stranger = await RawClient.open('127.0.0.2');
    try {
      bad.send(accessRequest({ username: 'alice', password: 'x', secret: SECRET, messageAuthenticator: 'wrong' }), node.port);
      stranger.send(accessRequest({ username: 'alice', password: 'x', secret: SECRET }), node.port);
      expect(await bad.next(800)).toBeUndefined();
      expect(await stranger.next(200)).toBeUndefined();
      await node.waitForLog((l) => l.cause === 'bad-message-authenticator');
      await node.waitForLog((l) => l.cause === 'unknown-client' && String(l.source).startsWith('127.0.0.2'));
    } finally {
      bad.close();
      stranger.close();
    }
  });

  it('serves a client that opted out of Message-Authenticator (pam_radius_auth 2.0 style)', async () => {
    await awaitFreshStep();
    const pam = await RawClient.open('127.0.0.3');
    try {
      pam.send(accessRequest({ username: 'alice', password: `alice-password${totpCode(secrets.alice!, 1)}`, secret: SECRET, messageAuthenticator: 'none' }), node.port);
      const answer = await pam.next();
      expect(answer?.[0]).toBe(2);
      expect(answer?.[20]).toBe(80); // Message-Authenticator is the first attribute of every answer
    } finally {
      pam.close();
    }
  });

  it('answers Status-Server', async () => {
    const reply = await radclient(node.target, SECRET, ['Message-Authenticator = 0x00'], { type: 'status' });
    expect(reply.code).toBe('Access-Accept');
  });

  it('runs the challenge flow: password, Access-Challenge with State, then the code; the State is single use', async () => {
    await awaitFreshStep();
    const first = await radclient(node.target, SECRET, papRequest('bob', 'bob-password'));
    expect(first.code).toBe('Access-Challenge');
    expect(first.attributes.get('Reply-Message')).toEqual(['Enter your one-time code']);
    const state = first.attributes.get('State')![0]!;
    const second = await radclient(node.target, SECRET, papRequest('bob', totpCode(secrets.bob!), [`State = ${state}`]));
    expect(second.code).toBe('Access-Accept');
    const again = await radclient(node.target, SECRET, papRequest('bob', totpCode(secrets.bob!, 1), [`State = ${state}`]));
    expect(again.code).toBe('Access-Reject');
    expect((await radclient(node.target, SECRET, papRequest('bob', 'wrong-password'))).code).toBe('Access-Reject');
  });

  it('accepts the code alone for a code-only user', async () => {
    await awaitFreshStep();
    expect((await radclient(node.target, SECRET, papRequest('carol', totpCode(secrets.carol!)))).code).toBe('Access-Accept');
  });

  it('locks an account after 5 failures, refuses even a right code, and unlocks on the admin\'s word', async () => {
    await awaitFreshStep(12);
    const secret = await node.addUserWithToken('frank', 'frank-password');
    for (let i = 0; i < 5; i++) {
      expect((await radclient(node.target, SECRET, papRequest('frank', `frank-password${wrongCode(secret)}`))).code).toBe('Access-Reject');
    }
    const mark = await node.mark();
    expect((await radclient(node.target, SECRET, papRequest('frank', `frank-password${totpCode(secret)}`))).code).toBe('Access-Reject');
    expect((await node.authAfter(mark, 'frank')).reason).toBe('locked');
    await node.cliOk('user', 'unlock', 'frank');
    expect((await radclient(node.target, SECRET, papRequest('frank', `frank-password${totpCode(secret)}`))).code).toBe('Access-Accept');
  });

  it('rejects a disabled user', async () => {
    await awaitFreshStep();
    const secret = await node.addUserWithToken('gina', 'gina-password');
    await node.cliOk('user', 'disable', 'gina');
    const mark = await node.mark();
    expect((await radclient(node.target, SECRET, papRequest('gina', `gina-password${totpCode(secret)}`))).code).toBe('Access-Reject');
    expect((await node.authAfter(mark, 'gina')).reason).toBe('disabled');
  });

  it('serves IPv6', async () => {
    await awaitFreshStep();
    const secret = await node.addUserWithToken('ivan', 'ivan-password');
    const mark = await node.mark();
    const reply = await radclient(`[::1]:${node.ports[1]}`, SECRET, papRequest('ivan', `ivan-password${totpCode(secret)}`));
    expect(reply.code).toBe('Access-Accept');
    expect((await node.authAfter(mark, 'ivan')).client).toBe('local6');
  });
});
