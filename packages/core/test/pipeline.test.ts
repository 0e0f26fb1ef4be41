import { randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { authenticate } from '../src/auth/pipeline.js';
import type { AuthPorts, AuthRequest, AuthUser, ClientPolicy, Decision, PushRequest } from '../src/auth/types.js';
import type { PushOutcome } from '../src/push/held-pushes.js';
import type { PasswordResult } from '../src/backends/backend.js';
import { codeAt, timeStep, type OtpToken } from '../src/otp/verify.js';
import type { PendingChallenge } from '../src/store/auth-repository.js';
import { settingsSchema, type AuthMode, type Settings, type SettingsInput } from '@otpgate/shared';

const T0 = 1_700_000_000_000;

function token(id: number, over: Partial<OtpToken> = {}): OtpToken {
  return {
    id, kind: 'totp', algorithm: 'SHA1', digits: 6, period: 30, t0: 0,
    key: Buffer.from(`token-secret-${id}`.padEnd(20, '#')), counter: 0,
    windowPast: 1, windowFuture: 1, lastStep: -1, drift: 0, ...over,
  };
}

function user(id: number, username: string, tokens: OtpToken[], over: Partial<AuthUser> = {}): AuthUser {
  return {
    id, username, status: 'active', passwordHash: null, authMode: null, groups: [], attributesJson: '[]',
    tokens, failures: 0, lockedUntil: null, createdAt: T0, initialLoginUntil: null, hasDisabledTokens: false, ...over,
  };
}

/**
 * The pipeline's world as plain objects: users, a token-state table whose consume only moves a step forward (and
 * commits a turn later, like the store's group commit), failure counters and a password backend that records calls.
 */
class World {
  clock = T0;
  settings: Settings = settingsSchema.parse({});
  readonly users = new Map<string, AuthUser>();
  readonly passwords = new Map<string, string>();
  readonly steps = new Map<number, { lastStep: number; drift: number }>();
  readonly failures = new Map<number, number>();
  readonly consumeCalls: Array<{ tokenId: number; step: number; drift: number; ok: boolean }> = [];
  readonly passwordCalls: Array<{ username: string; password: string }> = [];
  readonly chainsAsked: string[][] = [];
  readonly initialLogins = new Map<number, number>();
  isMaster = true;
  recordFailureCalls = 0;
  recordSuccessCalls = 0;
  backend: 'up' | 'down' = 'up';
  directoryGroups: string[] = [];
  /** Pending challenges by State (hex), as the state database's table holds them. */
  readonly challenges = new Map<string, PendingChallenge & { expiresAt: number }>();
  decoys = 0;
  /** One-time VPN credentials by password, as the master's table holds them (by hash). */
  readonly vpnCredentials = new Map<string, { userId: number; client: string | null; expiresAt: number; usedBy?: string }>();
  masterReachable = true;
  /** Logins held for a push, and how their pushes end. */
  readonly pushes: PushRequest[] = [];
  pushOutcome: PushOutcome = 'approved';

  configure(input: SettingsInput): void {
    this.settings = settingsSchema.parse(input);
  }

  add(u: AuthUser, password?: string): AuthUser {
    this.users.set(u.username.toLowerCase(), u);
    if (password !== undefined) this.passwords.set(u.username, password);
    return u;
  }

  /** What the token shows now (+ `offset` steps); HOTP: the code at `offset` as a counter. */
  code(t: OtpToken, offset = 0): string {
    return codeAt(t, t.kind === 'hotp' ? offset : timeStep(t, this.clock) + offset);
  }

  /** A code of the right length that the token does not show at any step near now. */
  wrongCode(t: OtpToken): string {
    const near = new Set([-3, -2, -1, 0, 1, 2, 3].map((k) => this.code(t, k)));
    for (let n = 0; ; n++) {
      const candidate = String(n).padStart(t.digits, '0');
      if (!near.has(candidate)) return candidate;
    }
  }

  step(t: OtpToken, offset = 0): number {
    return timeStep(t, this.clock) + offset;
  }

  lastStep(t: OtpToken): number {
    return this.steps.get(t.id)?.lastStep ?? -1;
  }

  ports(): AuthPorts {
    return {
      findUser: (username) => {
        const u = this.users.get(username.toLowerCase());
        if (!u) return undefined;
        // a fresh read, as the repository does per request
        return {
          ...u,
          tokens: u.tokens.map((t) => ({ ...t, lastStep: this.steps.get(t.id)?.lastStep ?? t.lastStep, drift: this.steps.get(t.id)?.drift ?? t.drift })),
          failures: this.failures.get(u.id) ?? 0,
        };
      },
      consume: async (u, t, step, drift) => {
        await new Promise((resolve) => setImmediate(resolve));
        const lockedUntil = this.users.get(u.username.toLowerCase())?.lockedUntil ?? null;
        if (lockedUntil !== null && lockedUntil > this.clock) return 'locked';
        const ok = step > (this.steps.get(t.id)?.lastStep ?? -1);
        if (ok) this.steps.set(t.id, { lastStep: step, drift });
        this.consumeCalls.push({ tokenId: t.id, step, drift, ok });
        return ok ? 'used' : 'replay';
      },
      recordFailure: async (u) => {
        this.recordFailureCalls++;
        this.failures.set(u.id, (this.failures.get(u.id) ?? 0) + 1);
      },
      recordSuccess: async (u) => {
        this.recordSuccessCalls++;
        this.failures.delete(u.id);
      },
      passwords: (chain) => {
        this.chainsAsked.push([...chain]);
        return {
          name: 'fake',
          verify: async (subject, password): Promise<PasswordResult> => {
            this.passwordCalls.push({ username: subject.username, password });
            if (this.backend === 'down') return { outcome: 'error', backend: 'fake', detail: 'directory unreachable' };
            return this.passwords.get(subject.username) === password
              ? { outcome: 'accept', backend: 'fake', groups: this.directoryGroups }
              : { outcome: 'reject', backend: 'fake', reason: 'bad-password', detail: 'password does not match' };
          },
          decoy: async () => {
            this.decoys++;
          },
        };
      },
      push: async (request) => {
        this.pushes.push(request);
        return this.pushOutcome;
      },
      useInitialLogin: async (u, max) => {
        if (!this.isMaster) return false;
        const used = this.initialLogins.get(u.id) ?? 0;
        if (used >= max) return false;
        this.initialLogins.set(u.id, used + 1);
        return true;
      },
      createChallenge: async (challenge, ttl) => {
        const state = randomBytes(16);
        this.challenges.set(state.toString('hex'), { ...challenge, expiresAt: this.clock + ttl * 1000 });
        return state;
      },
      takeChallenge: async (state, client) => {
        const pending = this.challenges.get(state.toString('hex'));
        if (!pending || pending.client !== client) return undefined;
        this.challenges.delete(state.toString('hex'));
        return pending.expiresAt > this.clock ? pending : undefined;
      },
      useVpnCredential: async (u, password, client, requestKey) => {
        if (!this.masterReachable) return 'unavailable';
        const c = this.vpnCredentials.get(password);
        if (!c) return { use: 'unknown' };
        if (c.userId !== u.id) return { use: 'other-user' };
        if (c.usedBy !== undefined) return { use: c.usedBy === requestKey ? 'repeat' : 'spent', issued_by: 'passkey' };
        if (c.expiresAt <= this.clock) return { use: 'expired' };
        if (c.client !== null && c.client !== client) return { use: 'other-client' };
        c.usedBy = requestKey ?? 'once';
        return { use: 'used', issued_by: 'passkey' };
      },
      lockedUntil: (u) => this.users.get(u.username.toLowerCase())?.lockedUntil ?? null,
      now: () => this.clock,
      settings: () => this.settings,
    };
  }

  run(username: string, password: string, extra: Partial<Omit<AuthRequest, 'client'>> & { client?: Partial<ClientPolicy> } = {}): Promise<Decision> {
    const client: ClientPolicy = { name: 'nas', mode: null, backends: null, singleFactor: false, ...extra.client };
    return authenticate({ username, password, state: undefined, ...extra, client }, this.ports());
  }
}

function reason(d: Decision): string {
  return d.outcome === 'reject' ? d.reason : d.outcome;
}

let w: World;
let alice: AuthUser;
let tok: OtpToken;
beforeEach(() => {
  w = new World();
  tok = token(1);
  alice = w.add(user(10, 'alice', [tok]), 'alice-password');
});

describe('inline, code first (default)', () => {
  it('accepts password+code: the backend sees only the password, the step is consumed', async () => {
    const d = await w.run('alice', `alice-password${w.code(tok)}`);
    expect(d).toMatchObject({ outcome: 'accept', backend: 'fake', user: { id: 10 } });
    expect(w.passwordCalls).toEqual([{ username: 'alice', password: 'alice-password' }]);
    expect(w.lastStep(tok)).toBe(w.step(tok));
    expect(w.recordFailureCalls).toBe(0);
    expect(w.recordSuccessCalls).toBe(0); // nothing to clear
  });

  it('a wrong code never reaches the password backend and counts a failure', async () => {
    const d = await w.run('alice', `alice-password${w.wrongCode(tok)}`);
    expect(reason(d)).toBe('bad-code');
    expect(w.passwordCalls).toEqual([]);
    expect(w.consumeCalls).toEqual([]);
    expect(w.failures.get(10)).toBe(1);
  });

  it('an unknown user never reaches the password backend and counts nothing', async () => {
    const d = await w.run('mallory', `whatever${w.code(tok)}`);
    expect(d).toEqual({ outcome: 'reject', reason: 'unknown-user', user: undefined, backend: undefined, detail: undefined });
    expect(w.passwordCalls).toEqual([]);
    expect(w.recordFailureCalls).toBe(0);
  });

  it('right code + wrong password: the code is consumed and a failure counted; the code cannot be tried again', async () => {
    const code = w.code(tok);
    const d = await w.run('alice', `wrong-password${code}`);
    expect(d).toMatchObject({ outcome: 'reject', reason: 'bad-password', backend: 'fake' });
    expect(w.lastStep(tok)).toBe(w.step(tok));
    expect(w.failures.get(10)).toBe(1);
    const retry = await w.run('alice', `alice-password${code}`);
    expect(reason(retry)).toBe('replay');
    expect(w.passwordCalls).toHaveLength(1);
    expect(w.failures.get(10)).toBe(2);
  });

  it('a backend error consumes nothing, counts nothing, says backend-error; the same code works once it is back', async () => {
    w.backend = 'down';
    const code = w.code(tok);
    const d = await w.run('alice', `alice-password${code}`);
    expect(d).toMatchObject({ outcome: 'reject', reason: 'backend-error', backend: 'fake', detail: 'directory unreachable' });
    expect(w.consumeCalls).toEqual([]);
    expect(w.lastStep(tok)).toBe(-1);
    expect(w.recordFailureCalls).toBe(0);
    w.backend = 'up';
    expect(reason(await w.run('alice', `alice-password${code}`))).toBe('accept');
  });

  it('a used code is a replay; the next step is accepted', async () => {
    const code = w.code(tok);
    expect(reason(await w.run('alice', `alice-password${code}`))).toBe('accept');
    expect(reason(await w.run('alice', `alice-password${code}`))).toBe('replay');
    expect(reason(await w.run('alice', `alice-password${w.code(tok, 1)}`))).toBe('accept');
    expect(w.lastStep(tok)).toBe(w.step(tok, 1));
  });

  it('input without a trailing code is a bad code with a detail', async () => {
    const d = await w.run('alice', 'alice-password');
    expect(d).toMatchObject({ outcome: 'reject', reason: 'bad-code', detail: 'no trailing one-time code in the password' });
    expect(w.passwordCalls).toEqual([]);
  });

  it('a code alone is a missing password: the code is used up, a failure counted, the backend not asked', async () => {
    const code = w.code(tok);
    const d = await w.run('alice', code);
    expect(d).toMatchObject({ outcome: 'reject', reason: 'missing-password' });
    expect(w.passwordCalls).toEqual([]);
    expect(w.failures.get(10)).toBe(1);
    expect(w.lastStep(tok)).toBe(w.step(tok));
  });

  it('a success after failures clears the failure count', async () => {
    await w.run('alice', `alice-password${w.wrongCode(tok)}`);
    await w.run('alice', 'alice-password');
    expect(w.failures.get(10)).toBe(2);
    expect(reason(await w.run('alice', `alice-password${w.code(tok)}`))).toBe('accept');
    expect(w.recordSuccessCalls).toBe(1);
    expect(w.failures.has(10)).toBe(false);
  });

  it('a user without tokens is rejected before any check', async () => {
    w.add(user(11, 'nobody', []), 'nobody-password');
    const d = await w.run('nobody', 'nobody-password123456');
    expect(reason(d)).toBe('no-token');
    expect(w.passwordCalls).toEqual([]);
  });

  it('two concurrent requests with the same code: one accept, one replay (the second consume loses)', async () => {
    const input = `alice-password${w.code(tok)}`;
    const [a, b] = await Promise.all([w.run('alice', input), w.run('alice', input)]);
    expect([reason(a), reason(b)].sort()).toEqual(['accept', 'replay']);
    // both requests matched the code before either stored it: the store's consume decided
    expect(w.consumeCalls.map((c) => [c.step, c.ok])).toEqual([
      [w.step(tok), true],
      [w.step(tok), false],
    ]);
    expect(w.failures.get(10)).toBe(1);
  });
});

describe('inline, password first', () => {
  beforeEach(() => w.configure({ auth: { check_order: 'password-first' } }));

  it('checks the password before the code; a wrong code then fails without consuming', async () => {
    const d = await w.run('alice', `alice-password${w.wrongCode(tok)}`);
    expect(d).toMatchObject({ outcome: 'reject', reason: 'bad-code', backend: 'fake' });
    expect(w.passwordCalls).toEqual([{ username: 'alice', password: 'alice-password' }]);
    expect(w.consumeCalls).toEqual([]);
    expect(w.failures.get(10)).toBe(1);
  });

  it('a wrong password is a bad password and leaves the code unused', async () => {
    const code = w.code(tok);
    expect(reason(await w.run('alice', `wrong-password${code}`))).toBe('bad-password');
    expect(w.consumeCalls).toEqual([]);
    expect(w.failures.get(10)).toBe(1);
    expect(reason(await w.run('alice', `alice-password${code}`))).toBe('accept');
    expect(w.passwordCalls).toHaveLength(2);
  });

  it('a backend error counts no failure', async () => {
    w.backend = 'down';
    expect(reason(await w.run('alice', `alice-password${w.code(tok)}`))).toBe('backend-error');
    expect(w.recordFailureCalls).toBe(0);
    expect(w.consumeCalls).toEqual([]);
  });

  it('a code alone is a missing password without asking the backend', async () => {
    expect(reason(await w.run('alice', w.code(tok)))).toBe('missing-password');
    expect(w.passwordCalls).toEqual([]);
  });

  it('a replayed code after a right password is a replay', async () => {
    const code = w.code(tok);
    expect(reason(await w.run('alice', `alice-password${code}`))).toBe('accept');
    expect(reason(await w.run('alice', `alice-password${code}`))).toBe('replay');
  });
});

describe('code-only mode', () => {
  it('from settings: the code alone is accepted and the backend never asked', async () => {
    w.configure({ auth: { default_mode: 'code-only' } });
    expect(reason(await w.run('alice', w.code(tok)))).toBe('accept');
    expect(reason(await w.run('alice', `alice-password${w.code(tok, 1)}`))).toBe('bad-code');
    expect(w.passwordCalls).toEqual([]);
  });

  it('the user mode wins over the client mode, and the client mode over the default', async () => {
    const carol = w.add(user(12, 'carol', [token(2)], { authMode: 'code-only' }), 'carol-password');
    const modes: Array<AuthMode | null> = ['inline', 'challenge', null];
    for (const [i, mode] of modes.entries()) {
      expect(reason(await w.run('carol', w.code(carol.tokens[0]!, i - 1), { client: { mode } })), String(mode)).toBe('accept');
    }
    expect(reason(await w.run('alice', w.code(tok), { client: { mode: 'code-only' } }))).toBe('accept');
    expect(reason(await w.run('alice', w.code(tok, 1)))).toBe('missing-password');
    expect(w.passwordCalls).toEqual([]);
  });
});

describe('challenge mode', () => {
  beforeEach(() => w.configure({ auth: { default_mode: 'challenge', challenge_prompt: 'Code?', challenge_timeout_seconds: 60 } }));

  async function challenge(username = 'alice', password = 'alice-password'): Promise<Buffer> {
    const d = await w.run(username, password);
    expect(d.outcome).toBe('challenge');
    if (d.outcome !== 'challenge') throw new Error('no challenge');
    expect(d.prompt).toBe('Code?');
    expect(d.state).toHaveLength(16);
    return d.state;
  }

  it('password, then State + code: accepted; the backend is asked once, the code consumed once', async () => {
    const state = await challenge();
    expect(w.consumeCalls).toEqual([]);
    const d = await w.run('alice', w.code(tok), { state });
    expect(d).toMatchObject({ outcome: 'accept', user: { id: 10 } });
    expect(w.passwordCalls).toHaveLength(1);
    expect(w.lastStep(tok)).toBe(w.step(tok));
  });

  it('a State answers one challenge only', async () => {
    const state = await challenge();
    expect(reason(await w.run('alice', w.code(tok), { state }))).toBe('accept');
    expect(reason(await w.run('alice', w.code(tok, 1), { state }))).toBe('challenge-expired');
    expect(w.lastStep(tok)).toBe(w.step(tok));
  });

  it('an expired State is refused; one answered just in time is accepted', async () => {
    const late = await challenge();
    const inTime = await challenge();
    w.clock += 59_000;
    expect(reason(await w.run('alice', w.code(tok), { state: inTime }))).toBe('accept');
    w.clock += 1_000;
    expect(reason(await w.run('alice', w.code(tok, 1), { state: late }))).toBe('challenge-expired');
  });

  it('a State answered for another user is refused without touching either account', async () => {
    const bob = w.add(user(20, 'bob', [token(3)]), 'bob-password');
    const state = await challenge('alice');
    const d = await w.run('bob', w.code(bob.tokens[0]!), { state });
    expect(d).toMatchObject({ outcome: 'reject', reason: 'challenge-expired', detail: 'the answer names a different user than the challenge' });
    expect(w.consumeCalls).toEqual([]);
    expect(w.recordFailureCalls).toBe(0);
  });

  it('a State answered by another RADIUS client is refused, and the real answer still works (finding 8)', async () => {
    const state = await challenge();
    expect(reason(await w.run('alice', w.code(tok), { state, client: { name: 'other-nas' } }))).toBe('challenge-expired');
    expect(w.consumeCalls).toEqual([]);
    expect(reason(await w.run('alice', w.code(tok), { state }))).toBe('accept');
  });

  it('an unknown user gets the decoy password work a known one would get (finding 6), and nothing else', async () => {
    expect(reason(await w.run('mallory', 'some-password'))).toBe('unknown-user');
    expect(w.decoys).toBe(1);
    expect(w.passwordCalls).toEqual([]);
  });

  it('an unknown State is refused', async () => {
    expect(reason(await w.run('alice', w.code(tok), { state: Buffer.alloc(16, 7) }))).toBe('challenge-expired');
  });

  it('the user name in the answer is compared without case', async () => {
    const state = await challenge();
    expect(reason(await w.run('ALICE', w.code(tok), { state }))).toBe('accept');
  });

  it('a wrong password gets no challenge; a wrong code in the answer counts a failure', async () => {
    expect(reason(await w.run('alice', 'wrong-password'))).toBe('bad-password');
    expect(w.challenges.size).toBe(0);
    const state = await challenge();
    expect(reason(await w.run('alice', w.wrongCode(tok), { state }))).toBe('bad-code');
    expect(w.failures.get(10)).toBe(2);
  });

  it('an empty password is a missing password; a backend error gets no challenge', async () => {
    expect(reason(await w.run('alice', ''))).toBe('missing-password');
    w.backend = 'down';
    expect(reason(await w.run('alice', 'alice-password'))).toBe('backend-error');
    expect(w.challenges.size).toBe(0);
    expect(w.failures.get(10)).toBe(1);
  });

  it('a user locked between the challenge and the answer is refused', async () => {
    const state = await challenge();
    alice.lockedUntil = w.clock + 60_000;
    expect(reason(await w.run('alice', w.code(tok), { state }))).toBe('locked');
    expect(w.consumeCalls).toEqual([]);
  });
});

describe('locked and disabled users', () => {
  it('a locked user is refused before any check; the lock ends at lockedUntil', async () => {
    alice.lockedUntil = w.clock + 1000;
    expect(reason(await w.run('alice', `alice-password${w.code(tok)}`))).toBe('locked');
    expect(w.passwordCalls).toEqual([]);
    expect(w.consumeCalls).toEqual([]);
    expect(w.recordFailureCalls).toBe(0);
    w.clock += 999;
    expect(reason(await w.run('alice', `alice-password${w.code(tok)}`))).toBe('locked');
    w.clock += 1;
    expect(reason(await w.run('alice', `alice-password${w.code(tok)}`))).toBe('accept');
  });

  it('a disabled user is refused in every mode', async () => {
    alice.status = 'disabled';
    for (const mode of ['inline', 'code-only', 'challenge'] as const) {
      w.configure({ auth: { default_mode: mode } });
      expect(reason(await w.run('alice', `alice-password${w.code(tok)}`)), mode).toBe('disabled');
    }
    expect(w.passwordCalls).toEqual([]);
  });
});

describe('users with 6- and 8-digit tokens', () => {
  let dave: AuthUser;
  let six: OtpToken;
  let eight: OtpToken;
  beforeEach(() => {
    six = token(4, { digits: 6 });
    eight = token(5, { kind: 'hotp', digits: 8, algorithm: 'SHA256', key: Buffer.alloc(32, 5) });
    // a password ending in digits: each token length gives a different split
    dave = w.add(user(30, 'dave', [six, eight]), 'pass12');
  });

  it('accepts the 6-digit code with the right password split', async () => {
    const d = await w.run('dave', `pass12${w.code(six)}`);
    expect(reason(d)).toBe('accept');
    expect(w.passwordCalls.map((c) => c.password)).toEqual(['pass12']);
    expect(w.consumeCalls).toEqual([{ tokenId: 4, step: w.step(six), drift: 0, ok: true }]);
  });

  it('accepts the 8-digit code with the right password split', async () => {
    const code = w.code(eight, 0);
    expect(code).toHaveLength(8);
    const d = await w.run('dave', `pass12${code}`);
    expect(reason(d)).toBe('accept');
    expect(w.passwordCalls.map((c) => c.password)).toEqual(['pass12']);
    expect(w.consumeCalls).toEqual([{ tokenId: 5, step: 0, drift: 0, ok: true }]);
    expect(reason(await w.run('dave', `pass12${code}`))).toBe('replay');
    expect(reason(await w.run('dave', `pass12${w.code(eight, 1)}`))).toBe('accept');
  });

  it('in code-only mode either token length works alone', async () => {
    dave.authMode = 'code-only';
    expect(reason(await w.run('dave', w.code(six)))).toBe('accept');
    expect(reason(await w.run('dave', w.code(eight, 0)))).toBe('accept');
    expect(w.consumeCalls.map((c) => c.tokenId)).toEqual([4, 5]);
  });

  it('password first also finds the right split', async () => {
    w.configure({ auth: { check_order: 'password-first' } });
    expect(reason(await w.run('dave', `pass12${w.code(eight, 0)}`))).toBe('accept');
  });
});

describe('realms, chains and single-factor policies', () => {
  it('strips a known realm (user@realm and DOMAIN\\user) and routes to the realm\'s chain; an unknown realm stays part of the name', async () => {
    w.configure({
      backends: [{ type: 'local', name: 'local' }, { type: 'local', name: 'corp' }],
      auth: { realms: [{ name: 'example.com', aliases: ['EXAMPLE'], backends: ['corp'] }] },
    });
    expect(reason(await w.run('alice@Example.com', `alice-password${w.code(tok)}`))).toBe('accept');
    expect(w.chainsAsked.at(-1)).toEqual(['corp']);
    expect(reason(await w.run('EXAMPLE\\alice', `alice-password${w.code(tok, 1)}`))).toBe('accept');
    expect(reason(await w.run('alice@elsewhere.org', `alice-password${w.code(tok, -1)}`))).toBe('unknown-user');
  });

  it('uses the client\'s chain when the realm has none, else the default chain', async () => {
    w.configure({ backends: [{ type: 'local', name: 'local' }, { type: 'local', name: 'vpn-ldap' }] });
    await w.run('alice', `alice-password${w.code(tok)}`, { client: { backends: ['vpn-ldap'] } });
    expect(w.chainsAsked.at(-1)).toEqual(['vpn-ldap']);
    await w.run('alice', `alice-password${w.code(tok, 1)}`);
    expect(w.chainsAsked.at(-1)).toEqual(['local']);
  });

  it('lets a single-factor client, a named user or a member of an exception group in with the password alone', async () => {
    const svc = w.add(user(20, 'svc-backup', [token(20)], { groups: ['Service Accounts'] }), 'svc-password');
    const bob = w.add(user(21, 'bob', [token(21)]), 'bob-password');
    expect(await w.run('bob', 'bob-password', { client: { singleFactor: true } })).toMatchObject({ outcome: 'accept', policy: 'single-factor' });
    expect(reason(await w.run('bob', 'bob-password'))).toBe('bad-code');
    w.configure({ auth: { single_factor: { users: ['BOB'] } } });
    expect(await w.run('bob', 'bob-password')).toMatchObject({ outcome: 'accept', policy: 'single-factor' });
    w.configure({ auth: { single_factor: { groups: ['service accounts'] } } });
    expect(await w.run('svc-backup', 'svc-password')).toMatchObject({ outcome: 'accept', policy: 'single-factor', user: { id: svc.id } });
    // a wrong password is still a wrong password, and counts
    expect(reason(await w.run('svc-backup', 'nope'))).toBe('bad-password');
    expect(w.failures.get(svc.id)).toBe(1);
    expect(bob.id).toBe(21);
  });

  it('grants the initial-login allowance to a user without a token: within the days, at most max_logins times, master only', async () => {
    const newbie = w.add(user(30, 'newbie', []), 'newbie-password');
    expect(reason(await w.run('newbie', 'newbie-password'))).toBe('no-token');
    w.configure({ auth: { initial_login: { enabled: true, days: 7, max_logins: 2 } } });
    expect(await w.run('newbie', 'newbie-password')).toMatchObject({ outcome: 'accept', policy: 'initial-login' });
    expect(reason(await w.run('newbie', 'wrong'))).toBe('bad-password');
    expect(await w.run('newbie', 'newbie-password')).toMatchObject({ outcome: 'accept' });
    expect(await w.run('newbie', 'newbie-password')).toMatchObject({ outcome: 'reject', reason: 'no-token' });
    w.clock += 8 * 86_400_000;
    w.initialLogins.clear();
    expect(reason(await w.run('newbie', 'newbie-password'))).toBe('no-token');
    // an admin-set deadline overrides the global days, and a replica never grants it
    newbie.initialLoginUntil = w.clock + 3_600_000;
    expect(reason(await w.run('newbie', 'newbie-password'))).toBe('accept');
    w.isMaster = false;
    expect(reason(await w.run('newbie', 'newbie-password'))).toBe('no-token');
  });

  it('gives no global allowance to a user whose tokens were all disabled (lost phone); an admin deadline still does', async () => {
    const lost = w.add(user(31, 'lostphone', [], { hasDisabledTokens: true }), 'lostphone-password');
    w.configure({ auth: { initial_login: { enabled: true, days: 7, max_logins: 5 } } });
    expect(reason(await w.run('lostphone', 'lostphone-password'))).toBe('no-token');
    lost.initialLoginUntil = w.clock + 3_600_000;
    expect(await w.run('lostphone', 'lostphone-password')).toMatchObject({ outcome: 'accept', policy: 'initial-login' });
  });

  it('adds the groups the directory reported to the accept, for reply attributes', async () => {
    w.add(user(40, 'dora', [token(40)], { groups: ['local-group'] }), 'dora-password');
    w.directoryGroups = ['vpn', 'local-group'];
    const d = await w.run('dora', `dora-password${w.code(token(40))}`);
    expect(d).toMatchObject({ outcome: 'accept' });
    expect(d.outcome === 'accept' && d.groups).toEqual(['local-group', 'vpn']);
  });
});

describe('one-time VPN credentials', () => {
  const credential = 'vpn-abcdefghijklmnopqrstuvwx';

  it('a credential is accepted alone, once, with its own policy and the method that issued it; no code or password is checked', async () => {
    w.vpnCredentials.set(credential, { userId: 10, client: null, expiresAt: w.clock + 120_000 });
    const d = await w.run('alice', credential, { requestKey: 'r1' });
    expect(d).toMatchObject({ outcome: 'accept', policy: 'vpn-credential', backend: 'passkey', user: { id: 10 } });
    expect(w.passwordCalls).toEqual([]);
    expect(w.consumeCalls).toEqual([]);
    const again = await w.run('alice', credential, { requestKey: 'r2' });
    expect(again).toMatchObject({ outcome: 'reject', reason: 'replay' });
    expect(w.failures.get(10)).toBe(1);
  });

  it('a retransmission of the request that used it gets the same accept', async () => {
    w.vpnCredentials.set(credential, { userId: 10, client: null, expiresAt: w.clock + 120_000 });
    expect(await w.run('alice', credential, { requestKey: 'r1' })).toMatchObject({ outcome: 'accept' });
    expect(await w.run('alice', credential, { requestKey: 'r1' })).toMatchObject({ outcome: 'accept', policy: 'vpn-credential' });
  });

  it('works for a user without a token, and in every mode (it replaces password and code)', async () => {
    const bob = w.add(user(11, 'bob', []));
    w.configure({ auth: { default_mode: 'challenge' } });
    w.vpnCredentials.set(credential, { userId: bob.id, client: null, expiresAt: w.clock + 120_000 });
    expect(await w.run('bob', credential)).toMatchObject({ outcome: 'accept', policy: 'vpn-credential' });
  });

  it('an expired one, one for another client or another user is rejected and counted as a failure', async () => {
    w.vpnCredentials.set(credential, { userId: 10, client: null, expiresAt: w.clock });
    expect(reason(await w.run('alice', credential))).toBe('credential-expired');
    w.vpnCredentials.set(credential, { userId: 10, client: 'other-nas', expiresAt: w.clock + 1000 });
    expect(reason(await w.run('alice', credential))).toBe('not-permitted');
    w.vpnCredentials.set(credential, { userId: 99, client: null, expiresAt: w.clock + 1000 });
    expect(reason(await w.run('alice', credential))).toBe('bad-password');
    expect(w.failures.get(10)).toBe(3);
  });

  it('a locked account is refused before any credential is looked at', async () => {
    w.vpnCredentials.set(credential, { userId: 10, client: null, expiresAt: w.clock + 1000 });
    alice.lockedUntil = w.clock + 60_000;
    expect(reason(await w.run('alice', credential))).toBe('locked');
    expect(w.vpnCredentials.get(credential)?.usedBy).toBeUndefined();
  });

  it('a password of that shape that is no credential is an ordinary password', async () => {
    w.add(user(12, 'carol', [token(3)]), credential);
    const carolToken = w.users.get('carol')!.tokens[0]!;
    expect(await w.run('carol', `${credential}${w.code(carolToken)}`)).toMatchObject({ outcome: 'accept', backend: 'fake' });
    expect(w.vpnCredentials.size).toBe(0);
  });

  it('on a replica whose master does not answer, a credential cannot be checked: rejected as unconfirmed, no failure counted', async () => {
    w.masterReachable = false;
    const d = await w.run('alice', credential);
    expect(reason(d)).toBe('unconfirmed');
    expect(w.recordFailureCalls).toBe(0);
  });
});

describe('accounts that require a passkey (settings.passkeys.required)', () => {
  const credential = 'vpn-abcdefghijklmnopqrstuvwx';

  it('refuses their password and code, in any mode but push, without asking the password backend; a VPN password from the portal still works', async () => {
    const bob = w.add(user(13, 'bob', [token(13)], { groups: ['Kiosk'] }), 'bob-password');
    w.configure({ passkeys: { required: { users: ['ALICE'], groups: ['kiosk'] } } });
    expect(await w.run('alice', `alice-password${w.code(tok)}`)).toMatchObject({ outcome: 'reject', reason: 'passkey-required' });
    expect(reason(await w.run('bob', `bob-password${w.code(bob.tokens[0]!)}`))).toBe('passkey-required');
    w.configure({ passkeys: { required: { users: ['alice'] } }, auth: { default_mode: 'challenge' } });
    expect(reason(await w.run('alice', 'alice-password'))).toBe('passkey-required');
    expect(w.passwordCalls).toEqual([]);
    w.vpnCredentials.set(credential, { userId: 10, client: null, expiresAt: w.clock + 120_000 });
    expect(await w.run('alice', credential)).toMatchObject({ outcome: 'accept', policy: 'vpn-credential' });
    // push logins go on: their approval needs the passkey (the portal's approval page)
    w.configure({ passkeys: { required: { users: ['alice'] } }, auth: { default_mode: 'push' } });
    expect(await w.run('alice', 'alice-password')).toMatchObject({ outcome: 'accept', policy: 'push' });
  });
});

describe('push mode', () => {
  beforeEach(() => w.configure({ auth: { default_mode: 'push' } }));

  it('the password alone is held for a push (keyed by client, Request Authenticator and user); approval accepts, logged as push', async () => {
    const d = await w.run('alice', 'alice-password', { source: '192.0.2.1', authenticator: 'ab'.repeat(16) });
    expect(d).toMatchObject({ outcome: 'accept', policy: 'push', backend: 'fake' });
    expect(w.pushes).toEqual([{ user: expect.objectContaining({ id: 10 }), client: 'nas', clientAddress: '192.0.2.1', authenticator: 'ab'.repeat(16), number: undefined }]);
  });

  it('"push" in place of the code: the password without it is checked', async () => {
    expect(reason(await w.run('alice', 'alice-passwordpush'))).toBe('accept');
    expect(w.passwordCalls).toEqual([{ username: 'alice', password: 'alice-password' }]);
  });

  it('a wrong password sends no push and counts a failure', async () => {
    expect(reason(await w.run('alice', 'wrong'))).toBe('bad-password');
    expect(w.pushes).toEqual([]);
    expect(w.failures.get(10)).toBe(1);
  });

  it('a matching code still logs in as inline, without a push', async () => {
    expect(reason(await w.run('alice', `alice-password${w.code(tok)}`))).toBe('accept');
    expect(w.pushes).toEqual([]);
  });

  it('deny, timeout, an unreachable master and the limits each reject with their own reason, counting no failure', async () => {
    const outcomes = { denied: 'push-denied', 'not-me': 'push-denied', timeout: 'push-timeout', unavailable: 'push-unavailable', 'rate-limited': 'push-limited', busy: 'push-limited', locked: 'locked' } as const;
    for (const [outcome, expected] of Object.entries(outcomes)) {
      w.pushOutcome = outcome as PushOutcome;
      expect(reason(await w.run('alice', 'alice-password'))).toBe(expected);
    }
    expect(w.recordFailureCalls).toBe(0);
  });

  it('number matching: the password gets a challenge showing a 2-digit number; any answer is then held for the push with that number', async () => {
    w.configure({ auth: { default_mode: 'push' }, push: { number_matching: true } });
    const d = await w.run('alice', 'alice-password');
    if (d.outcome !== 'challenge') throw new Error(`expected a challenge, got ${d.outcome}`);
    const number = /pick (\d{2})\b/.exec(d.prompt)?.[1];
    expect(number).toMatch(/^[1-9]\d$/);
    expect(w.pushes).toEqual([]);
    const answer = await w.run('alice', '', { state: d.state });
    expect(answer).toMatchObject({ outcome: 'accept', policy: 'push' });
    expect(w.pushes[0]?.number).toBe(number);
  });

  it('an unknown user in push mode costs a decoy password check', async () => {
    expect(reason(await w.run('mallory', 'whatever'))).toBe('unknown-user');
    expect(w.decoys).toBe(1);
  });
});
