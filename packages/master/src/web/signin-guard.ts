import { BoundedMap, type MapMeter } from '@otpgate/core';

export interface SignInGuardOptions {
  /** The maps' names in metrics: "admin" gives admin_signin_failures and admin_signin_addresses. */
  name: string;
  meter?: MapMeter;
  maxFailures?: number;
  lockMs?: number;
  /** Attempts one address may make in a minute. */
  perAddress?: number;
  /** Names and addresses remembered at most (each map); when full the least recently seen are forgotten. */
  maxEntries?: number;
  now?: () => number;
}

const MINUTE_MS = 60_000;

/**
 * Sign-in throttling for the admin UI and the portal: an account is locked after `maxFailures` wrong passwords in a
 * row (for `lockMs`), and one address may try at most `perAddress` times a minute whatever the account, so neither
 * guessing one admin's password nor spraying many accounts from one place gets far. Both are kept in bounded maps:
 * failures are forgotten `lockMs` after the last one, addresses a minute after their last attempt.
 */
export class SignInGuard {
  private readonly failures: BoundedMap<string, { count: number; lockedUntil: number }>;
  private readonly attempts: BoundedMap<string, number[]>;
  private readonly maxFailures: number;
  private readonly lockMs: number;
  private readonly perAddress: number;
  private readonly now: () => number;

  constructor(options: SignInGuardOptions) {
    this.maxFailures = options.maxFailures ?? 5;
    this.lockMs = options.lockMs ?? 15 * MINUTE_MS;
    this.perAddress = options.perAddress ?? 20;
    this.now = options.now ?? Date.now;
    const maxEntries = options.maxEntries ?? 50_000;
    const common = { meter: options.meter, maxEntries, now: this.now };
    this.failures = new BoundedMap({ ...common, name: `${options.name}_signin_failures`, maxAgeMs: this.lockMs });
    this.attempts = new BoundedMap({ ...common, name: `${options.name}_signin_addresses`, maxAgeMs: MINUTE_MS });
  }

  /** Why this attempt may not go ahead, or undefined when it may (counts the attempt). */
  refuse(username: string, address: string): string | undefined {
    const t = this.now();
    // the attempts of the last minute; one more than the limit is all it takes to refuse, so no more are kept
    const recent = (this.attempts.get(address) ?? []).filter((at) => t - at < MINUTE_MS).slice(-this.perAddress);
    recent.push(t);
    this.attempts.set(address, recent);
    if (recent.length > this.perAddress) return 'too many sign-in attempts from your address; wait a minute';
    const state = this.failures.get(username.toLowerCase());
    if (state && state.lockedUntil > t) {
      return `this account is locked after repeated failures; try again in ${Math.ceil((state.lockedUntil - t) / MINUTE_MS)} min`;
    }
    return undefined;
  }

  failed(username: string): void {
    const key = username.toLowerCase();
    const t = this.now();
    const state = this.failures.get(key) ?? { count: 0, lockedUntil: 0 };
    if (state.lockedUntil !== 0 && state.lockedUntil <= t) state.count = 0;
    state.count++;
    state.lockedUntil = state.count >= this.maxFailures ? t + this.lockMs : 0;
    this.failures.set(key, state);
  }

  succeeded(username: string): void {
    this.failures.delete(username.toLowerCase());
  }
}
