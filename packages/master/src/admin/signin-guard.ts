/**
 * Sign-in throttling for the admin UI: an account is locked after `maxFailures` wrong passwords in a row (for
 * `lockMs`), and one address may try at most `perAddress` times a minute whatever the account, so neither guessing
 * one admin's password nor spraying many accounts from one place gets far.
 */
export class SignInGuard {
  private readonly failures = new Map<string, { count: number; lockedUntil: number }>();
  private readonly attempts = new Map<string, number[]>();

  constructor(
    private readonly maxFailures = 5,
    private readonly lockMs = 15 * 60_000,
    private readonly perAddress = 20,
    private readonly now: () => number = Date.now,
  ) {}

  /** Why this attempt may not go ahead, or undefined when it may (counts the attempt). */
  refuse(username: string, address: string): string | undefined {
    const t = this.now();
    const recent = (this.attempts.get(address) ?? []).filter((at) => t - at < 60_000);
    recent.push(t);
    this.attempts.set(address, recent);
    if (this.attempts.size > 50_000) this.attempts.clear();
    if (recent.length > this.perAddress) return 'too many sign-in attempts from your address; wait a minute';
    const state = this.failures.get(username.toLowerCase());
    if (state && state.lockedUntil > t) {
      return `this account is locked after repeated failures; try again in ${Math.ceil((state.lockedUntil - t) / 60_000)} min`;
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
