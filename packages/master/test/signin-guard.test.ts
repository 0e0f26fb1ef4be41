import { describe, expect, it } from 'vitest';
import { Metrics } from '@otpgate/core';
import { SignInGuard } from '../src/web/signin-guard.js';

const MINUTE = 60_000;

async function entries(metrics: Metrics, map: string): Promise<number> {
  const line = (await metrics.registry.metrics()).split('\n').find((l) => l.startsWith(`otpgate_bounded_map_entries{map="${map}"}`));
  return Number(line?.split(' ').at(-1));
}

describe('SignInGuard', () => {
  it('locks an account after maxFailures wrong passwords in a row, for lockMs', () => {
    let now = 0;
    const guard = new SignInGuard({ name: 'test', maxFailures: 3, lockMs: 15 * MINUTE, now: () => now });
    for (let i = 0; i < 3; i++) {
      expect(guard.refuse('Admin', `192.0.2.${i}`)).toBeUndefined();
      guard.failed('Admin');
    }
    expect(guard.refuse('admin', '192.0.2.9')).toMatch(/locked .* 15 min/);
    now += 15 * MINUTE;
    expect(guard.refuse('admin', '192.0.2.9')).toBeUndefined();
    // a success clears the count
    guard.failed('admin');
    guard.failed('admin');
    guard.succeeded('ADMIN');
    guard.failed('admin');
    expect(guard.refuse('admin', '192.0.2.9')).toBeUndefined();
  });

  it('refuses an address past perAddress attempts a minute, whatever the account', () => {
    let now = 0;
    const guard = new SignInGuard({ name: 'test', perAddress: 5, now: () => now });
    for (let i = 0; i < 5; i++) expect(guard.refuse(`user${i}`, '192.0.2.1')).toBeUndefined();
    expect(guard.refuse('user9', '192.0.2.1')).toMatch(/too many sign-in attempts/);
    expect(guard.refuse('user9', '192.0.2.2')).toBeUndefined();
    // hammering on does not extend the memory beyond the limit: a quiet minute and the address may try again
    for (let i = 0; i < 10_000; i++) guard.refuse('user9', '192.0.2.1');
    now += MINUTE;
    expect(guard.refuse('user9', '192.0.2.1')).toBeUndefined();
  });

  it('forgets failures lockMs after the last one, and addresses a minute after their last attempt', async () => {
    let now = 0;
    const metrics = new Metrics({ processMetrics: false });
    const guard = new SignInGuard({ name: 'test', meter: metrics, lockMs: 15 * MINUTE, now: () => now });
    for (let i = 0; i < 100; i++) {
      guard.refuse(`user${i}`, `192.0.2.${i}`);
      guard.failed(`user${i}`);
    }
    expect(await entries(metrics, 'test_signin_failures')).toBe(100);
    expect(await entries(metrics, 'test_signin_addresses')).toBe(100);
    now += MINUTE;
    expect(await entries(metrics, 'test_signin_addresses')).toBe(0);
    now += 14 * MINUTE;
    expect(await entries(metrics, 'test_signin_failures')).toBe(0);
  });

  it('stays within maxEntries names and addresses under a flood of made-up names from many addresses', async () => {
    const metrics = new Metrics({ processMetrics: false });
    const guard = new SignInGuard({ name: 'test', meter: metrics, maxEntries: 1000 });
    for (let i = 0; i < 20_000; i++) {
      const name = `sprayed-${i}-${'x'.repeat(200)}`;
      guard.refuse(name, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
      guard.failed(name);
    }
    expect(await entries(metrics, 'test_signin_failures')).toBe(1000);
    expect(await entries(metrics, 'test_signin_addresses')).toBe(1000);
  });
});
