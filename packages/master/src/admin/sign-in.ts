import { matchCode, type AuthRepository, type BackendRegistry, type Services } from '@otpgate/core';
import type { Settings } from '@otpgate/shared';
import type { Session } from '../web/sessions.js';
import type { SignInGuard } from '../web/signin-guard.js';

/**
 * What an admin UI session signed in as, checked again on every request. A built-in account: its stamp (changed by
 * every password set, and gone with the account). A directory account in the admin group: the directory settings it
 * was admitted under, and when the directory last confirmed it is still in the group.
 */
export type AdminSessionData = { kind: 'local'; stamp: string } | { kind: 'directory'; stamp: string; groupCheckedAt: number };

export type AdminSession = Session<AdminSessionData>;

export type SignInOutcome =
  | { ok: true; admin: string; session: AdminSessionData }
  /** The password was right and the admin has an otpgate token: ask for the code. */
  | { ok: false; needCode: true }
  | { ok: false; needCode: false; message: string; detail: string };

const GENERIC = 'Wrong user name, password or code.';

/** What a directory admin is admitted under: a change of the backend or the group ends their sessions. */
function directoryStamp(admin: Settings['admin']): string {
  return `${admin.directory_backend}\n${admin.directory_group.toLowerCase()}`;
}

function inGroup(groups: readonly string[] | undefined, group: string): boolean {
  return (groups ?? []).some((g) => g.toLowerCase() === group.toLowerCase());
}

/**
 * Admin sign-in: the built-in accounts (argon2id, replicated to every node), or members of the directory admin group
 * through a configured backend. An admin who also has an otpgate token must add a current code (used up like a
 * RADIUS login, so it cannot be replayed). A session stays an admin's only while `ended` finds nothing.
 */
export class AdminSignIn {
  constructor(
    private readonly deps: {
      services: Services;
      backends: BackendRegistry;
      repository: AuthRepository;
      settings: () => Settings;
      guard: SignInGuard;
      /** How often at most a directory admin's group membership is asked of the directory again (0: every request). */
      directoryRecheckMs: number;
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
    return { ok: true, admin: first.admin, session: first.session };
  }

  /**
   * Why a signed-in admin is no longer one, or undefined while they are. A built-in account: its stamp as stored now
   * (read from the database, so a password set or a removal by the CLI or on the master counts at once). A directory
   * admin: the directory settings, and at most every directoryRecheckMs the directory itself (still there, still in
   * the group); a directory that cannot be asked ends the session too.
   */
  async ended(session: AdminSession): Promise<string | undefined> {
    const data = session.data;
    if (data.kind === 'local') {
      return this.deps.services.admins.stamp(session.subject) === data.stamp ? undefined : 'the account was removed or its password set';
    }
    const admin = this.deps.settings().admin;
    if (directoryStamp(admin) !== data.stamp) return 'the directory admin backend or group changed';
    const now = Date.now();
    if (now - data.groupCheckedAt < this.deps.directoryRecheckMs) return undefined;
    // requests arriving meanwhile go on under the previous answer, without asking the directory each time
    data.groupCheckedAt = now;
    const backend = this.deps.backends.get(admin.directory_backend);
    if (!backend?.lookup) return `the backend ${admin.directory_backend} cannot look up a user without their password`;
    const result = await backend.lookup(session.subject);
    if (result.outcome === 'error') return `the directory could not be asked: ${result.detail}`;
    if (result.outcome === 'reject') return `the directory said ${result.reason}: ${result.detail}`;
    return inGroup(result.groups, admin.directory_group) ? undefined : `no longer in the directory admin group ${admin.directory_group}`;
  }

  private async checkPassword(
    username: string,
    password: string,
  ): Promise<{ ok: true; admin: string; session: AdminSessionData } | { ok: false; detail: string }> {
    if (!username || !password) return { ok: false, detail: 'empty user name or password' };
    const local = this.deps.services.admins.find(username);
    if (local) {
      const account = await this.deps.services.admins.authenticate(local.username, password);
      return account
        ? { ok: true, admin: account.username, session: { kind: 'local', stamp: account.stamp } }
        : { ok: false, detail: 'wrong password for a local admin account' };
    }
    const admin = this.deps.settings().admin;
    const backend = admin.directory_backend ? this.deps.backends.get(admin.directory_backend) : undefined;
    if (!backend) {
      // no such admin: verify still spends the argon2id work, so the time taken does not tell which names exist
      await this.deps.services.admins.verify(username, password);
      return { ok: false, detail: 'no such admin account (and no directory admins configured)' };
    }
    const result = await backend.verify({ username, passwordHash: null }, password);
    if (result.outcome !== 'accept') return { ok: false, detail: `directory said ${result.outcome}: ${'detail' in result ? result.detail : ''}` };
    return inGroup(result.groups, admin.directory_group)
      ? { ok: true, admin: username, session: { kind: 'directory', stamp: directoryStamp(admin), groupCheckedAt: Date.now() } }
      : { ok: false, detail: `directory user is not in the admin group ${admin.directory_group}` };
  }

  /** 'ok' when no code is needed or the code is right; 'need-code' when one is needed and none was given. */
  private async checkCode(username: string, code: string): Promise<'ok' | 'need-code' | 'wrong code' | 'code already used'> {
    const user = this.deps.repository.findUser(username);
    if (!user || user.tokens.length === 0) return 'ok';
    if (!code) return 'need-code';
    const match = matchCode(user, code.trim(), Date.now(), this.deps.settings());
    if (match === 'no-match') return 'wrong code';
    if (match === 'replay' || !(await this.deps.repository.consume(user, match.token, match.step, match.drift))) return 'code already used';
    return 'ok';
  }
}
