import { matchCode, type AuthRepository, type BackendRegistry, type Services } from '@otpgate/core';
import type { Settings } from '@otpgate/shared';
import type { SignInGuard } from './signin-guard.js';

export type SignInOutcome =
  | { ok: true; admin: string; kind: 'local' | 'directory' }
  /** The password was right and the admin has an otpgate token: ask for the code. */
  | { ok: false; needCode: true }
  | { ok: false; needCode: false; message: string; detail: string };

const GENERIC = 'Wrong user name, password or code.';

/**
 * Admin sign-in: the built-in accounts (argon2id, replicated to every node), or members of the directory admin group
 * through a configured backend. An admin who also has an otpgate token must add a current code (used up like a
 * RADIUS login, so it cannot be replayed).
 */
export class AdminSignIn {
  constructor(
    private readonly deps: {
      services: Services;
      backends: BackendRegistry;
      repository: AuthRepository;
      settings: () => Settings;
      guard: SignInGuard;
    },
  ) {}

  async signIn(username: string, password: string, code: string, address: string): Promise<SignInOutcome> {
    const refused = this.deps.guard.refuse(username, address);
    if (refused) return { ok: false, needCode: false, message: refused, detail: refused };
    const first = await this.checkPassword(username, password);
    if (!first.ok) {
      this.deps.guard.failed(username);
      return { ok: false, needCode: false, message: GENERIC, detail: first.detail };
    }
    const second = await this.checkCode(username, code);
    if (second === 'need-code') return { ok: false, needCode: true };
    if (second !== 'ok') {
      this.deps.guard.failed(username);
      return { ok: false, needCode: false, message: GENERIC, detail: second };
    }
    this.deps.guard.succeeded(username);
    return { ok: true, admin: first.admin, kind: first.kind };
  }

  private async checkPassword(username: string, password: string): Promise<{ ok: true; admin: string; kind: 'local' | 'directory' } | { ok: false; detail: string }> {
    if (!username || !password) return { ok: false, detail: 'empty user name or password' };
    const local = this.deps.services.admins.find(username);
    if (local) {
      return (await this.deps.services.admins.verify(local.username, password))
        ? { ok: true, admin: local.username, kind: 'local' }
        : { ok: false, detail: 'wrong password for a local admin account' };
    }
    const { directory_backend: backendName, directory_group: group } = this.deps.settings().admin;
    const backend = backendName ? this.deps.backends.get(backendName) : undefined;
    if (!backend) {
      // no such admin: verify still spends the argon2id work, so the time taken does not tell which names exist
      await this.deps.services.admins.verify(username, password);
      return { ok: false, detail: 'no such admin account (and no directory admins configured)' };
    }
    const result = await backend.verify({ username, passwordHash: null }, password);
    if (result.outcome !== 'accept') return { ok: false, detail: `directory said ${result.outcome}: ${'detail' in result ? result.detail : ''}` };
    const member = (result.groups ?? []).some((g) => g.toLowerCase() === group.toLowerCase());
    return member ? { ok: true, admin: username, kind: 'directory' } : { ok: false, detail: `directory user is not in the admin group ${group}` };
  }

  /** 'ok' when no code is needed or the code is right; 'need-code' when one is needed and none was given. */
  private async checkCode(username: string, code: string): Promise<'ok' | 'need-code' | string> {
    const user = this.deps.repository.findUser(username);
    if (!user || user.tokens.length === 0) return 'ok';
    if (!code) return 'need-code';
    const match = matchCode(user, code.trim(), Date.now(), this.deps.settings());
    if (match === 'no-match') return 'wrong code';
    if (match === 'replay' || !(await this.deps.repository.consume(user, match.token, match.step, match.drift))) return 'code already used';
    return 'ok';
  }
}
