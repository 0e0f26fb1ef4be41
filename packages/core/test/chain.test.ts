import { describe, expect, it } from 'vitest';
import type { PasswordBackend, PasswordResult } from '../src/backends/backend.js';
import { PasswordChain } from '../src/backends/chain.js';
import { LocalPasswordBackend, hashPassword } from '../src/backends/local.js';

function backend(name: string, result: PasswordResult['outcome'] | 'unknown', calls: string[]): PasswordBackend {
  return {
    name,
    verify: async () => {
      calls.push(name);
      if (result === 'accept') return { outcome: 'accept', backend: name };
      if (result === 'error') return { outcome: 'error', backend: name, detail: `${name} is down` };
      if (result === 'unknown') return { outcome: 'reject', backend: name, reason: 'unknown-user', detail: 'no such user' };
      return { outcome: 'reject', backend: name, reason: 'bad-password', detail: 'wrong' };
    },
  };
}

describe('PasswordChain', () => {
  const subject = { username: 'alice', passwordHash: null };

  it('falls back to the next backend when one is down or does not know the user', async () => {
    const calls: string[] = [];
    const chain = new PasswordChain([backend('ldap', 'error', calls), backend('ad', 'unknown', calls), backend('entra', 'accept', calls)]);
    expect(await chain.verify(subject, 'pw')).toMatchObject({ outcome: 'accept', backend: 'entra' });
    expect(calls).toEqual(['ldap', 'ad', 'entra']);
  });

  it('stops at a definite answer: a wrong password is never tried against the next directory', async () => {
    const calls: string[] = [];
    const chain = new PasswordChain([backend('ldap', 'reject', calls), backend('entra', 'accept', calls)]);
    expect(await chain.verify(subject, 'pw')).toMatchObject({ outcome: 'reject', reason: 'bad-password', backend: 'ldap' });
    expect(calls).toEqual(['ldap']);
  });

  it('reports unknown-user over an outage when one directory answered, and every outage when none did', async () => {
    const calls: string[] = [];
    expect(await new PasswordChain([backend('a', 'error', calls), backend('b', 'unknown', calls)]).verify(subject, 'pw')).toMatchObject({
      outcome: 'reject',
      reason: 'unknown-user',
    });
    const down = await new PasswordChain([backend('a', 'error', calls), backend('b', 'error', calls)]).verify(subject, 'pw');
    expect(down).toMatchObject({ outcome: 'error' });
    expect(down.outcome === 'error' && down.detail).toBe('a: a is down; b: b is down');
  });

  it('local first: a user without a local password goes on to the directory; a wrong local password ends the chain', async () => {
    const calls: string[] = [];
    const chain = new PasswordChain([new LocalPasswordBackend(), backend('corp', 'accept', calls)]);
    expect(await chain.verify(subject, 'directory-password')).toMatchObject({ outcome: 'accept', backend: 'corp' });
    expect(calls).toEqual(['corp']);
    const local = { username: 'bob', passwordHash: await hashPassword('bob-local-password') };
    expect(await chain.verify(local, 'not-it')).toMatchObject({ outcome: 'reject', reason: 'bad-password', backend: 'local' });
    expect(await chain.verify(local, 'bob-local-password')).toMatchObject({ outcome: 'accept', backend: 'local' });
    expect(calls).toEqual(['corp']);
  });

  it('is an error when empty', async () => {
    expect(await new PasswordChain([]).verify(subject, 'pw')).toMatchObject({ outcome: 'error' });
  });
});
