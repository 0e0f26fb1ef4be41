import type { PasswordBackend, PasswordResult, PasswordSubject } from './backend.js';

/**
 * Backends in order, with fallback: the next is asked when one cannot answer (error) or does not know the user;
 * a definite answer (accept, wrong password, locked...) ends the chain. A wrong password is never retried against
 * another directory.
 */
export class PasswordChain implements PasswordBackend {
  readonly name: string;

  constructor(private readonly backends: readonly PasswordBackend[]) {
    this.name = backends.map((b) => b.name).join('>');
  }

  async verify(subject: PasswordSubject, password: string): Promise<PasswordResult> {
    let last: PasswordResult = { outcome: 'error', backend: this.name || 'none', detail: 'no password backend configured' };
    const errors: string[] = [];
    for (const backend of this.backends) {
      const result = await backend.verify(subject, password);
      if (result.outcome === 'accept') return result;
      if (result.outcome === 'reject' && result.reason !== 'unknown-user') return result;
      if (result.outcome === 'error') errors.push(`${result.backend}: ${result.detail}`);
      // an unknown user in one directory still beats "could not ask" from another
      if (last.outcome === 'error' || result.outcome === 'reject') last = result;
    }
    if (last.outcome === 'error' && errors.length > 1) return { ...last, detail: errors.join('; ') };
    return last;
  }

  /** A known user's check usually ends at the first backend: its work. */
  async decoy(password: string): Promise<void> {
    await this.backends[0]?.decoy?.(password);
  }
}
