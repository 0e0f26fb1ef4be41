import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { ATTR, CODE, codeAt, fromBase32, parseRequest, verifyMessageAuthenticator } from '@otpgate/core';
import { encodePacket, type AttributePlan, type EncodeContext } from './fuzz-datagrams.js';
import type { Endpoint } from './fuzz-endpoint.js';
import type { CheckUser, FuzzFixture } from './fuzz-fixture.js';
import { errorStack } from '@otpgate/shared';

/**
 * The valid requests the fuzzer mixes into its datagrams, and the answer each must get. The check users' codes are
 * computed here (HOTP/TOTP through otpauth, as the server does), and a model of each token says whether a code is
 * still unused: the right password and code is accepted once, then rejected as a replay; a wrong code, a wrong
 * password or no code is rejected; a captured accepted request sent again from another port is rejected; a challenge
 * State works once. Every answer must also be signed for its request (Response Authenticator and a
 * Message-Authenticator, first) and echo its Proxy-States.
 */

export type CheckKind = 'right' | 'wrong-code' | 'wrong-password' | 'no-code' | 'replay';
export type Via = 'ma-required' | 'ma-optional';

export interface CheckAction {
  /** Which check user (modulo their number). */
  user: number;
  kind: CheckKind;
  via: Via;
  /** Whether a client that need not send a Message-Authenticator sends one anyway. */
  messageAuthenticator: boolean;
  /** Sent (and to be echoed) only with a Message-Authenticator: without one the server must drop them (BlastRADIUS). */
  proxyStates: Uint8Array[];
  /** Half of each Request Authenticator; a sequence number makes the other half, so no two requests share one. */
  nonce: Uint8Array;
  /** For a wrong code: how far from the right one. */
  codeOffset: number;
}

export const checkAction: fc.Arbitrary<CheckAction> = fc.record({
  user: fc.nat(),
  kind: fc.oneof(
    { weight: 3, arbitrary: fc.constant('right') },
    { weight: 2, arbitrary: fc.constantFrom('wrong-code', 'wrong-password', 'no-code', 'replay') },
  ),
  via: fc.constantFrom('ma-required', 'ma-optional'),
  messageAuthenticator: fc.boolean(),
  proxyStates: fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 3 }),
  nonce: fc.uint8Array({ minLength: 8, maxLength: 8 }),
  codeOffset: fc.integer({ min: 1, max: 999_999 }),
});

const ANSWER_NAMES: Record<number, string> = { [CODE.ACCESS_ACCEPT]: 'Access-Accept', [CODE.ACCESS_REJECT]: 'Access-Reject', [CODE.ACCESS_CHALLENGE]: 'Access-Challenge' };

function answerName(code: number | undefined): string {
  return code === undefined ? 'no answer' : (ANSWER_NAMES[code] ?? `code ${code}`);
}

/** Whether `answer` carries the Response Authenticator of an answer to `request` (the cheap test). */
export function signedFor(answer: Buffer, request: Buffer, secret: Buffer): boolean {
  if (answer.length < 20 || request.length < 20 || answer[1] !== request[1]) return false;
  const copy = Buffer.from(answer);
  request.copy(copy, 4, 4, 20);
  return createHash('md5').update(copy).update(secret).digest().equals(answer.subarray(4, 20));
}

/**
 * What is wrong with `answer` as the answer to `request` (RFC 2865 §3, RFC 3579 §3.2, RFC 2865 §5.33), or undefined:
 * a well-formed Access-Accept, -Reject or -Challenge, Message-Authenticator first and verifying, Response
 * Authenticator verifying, the request's Proxy-States echoed in order.
 */
export function answerProblem(answer: Buffer, request: Buffer, secret: Buffer): string | undefined {
  const parsed = parseRequest(answer);
  if (!parsed.ok) return `malformed answer (${parsed.reason}: ${parsed.detail})`;
  const a = parsed.request;
  if (a.packet.length !== answer.length) return `Length field ${a.packet.length} in a datagram of ${answer.length} bytes`;
  if (a.identifier !== request[1]) return `identifier ${a.identifier} for request ${request[1]}`;
  if (!(a.code in ANSWER_NAMES)) return `answer code ${a.code}`;
  if (answer[20] !== ATTR.MESSAGE_AUTHENTICATOR || answer[21] !== 18) return 'the first attribute is not a Message-Authenticator';
  const withRequestAuthenticator = Buffer.from(answer);
  request.copy(withRequestAuthenticator, 4, 4, 20);
  if (!verifyMessageAuthenticator(withRequestAuthenticator, 22, secret)) return 'the Message-Authenticator does not verify';
  if (!signedFor(answer, request, secret)) return 'the Response Authenticator does not verify';
  const asked = parseRequest(request);
  if (asked.ok) {
    const sent = asked.request.proxyStates.map((p) => p.toString('hex')).join(',');
    const echoed = a.proxyStates.map((p) => p.toString('hex')).join(',');
    if (sent !== echoed) return `Proxy-States ${echoed || 'none'} echoed for ${sent || 'none'}`;
  }
  return undefined;
}

export interface WrongAnswer {
  what: string;
  expected: string;
  got: string;
  request: string;
  answer: string | undefined;
}

export interface CheckCounts {
  requests: number;
  accept: number;
  reject: number;
  challenge: number;
}

/** Which codes of one token the server still takes, as far as the answers so far tell. */
class TokenModel {
  private readonly key: Buffer;
  /** TOTP: the last step used; HOTP: the next counter. */
  private position: number;

  constructor(private readonly token: CheckUser['token']) {
    this.key = fromBase32(token.secret);
    this.position = token.kind === 'totp' ? -1 : token.counter;
  }

  private code(step: number): string {
    return codeAt({ key: this.key, algorithm: this.token.algorithm, digits: this.token.digits }, step);
  }

  /** The code the token shows now, the step (or counter) it belongs to, and whether the server has yet to use it. */
  current(nowMs: number): { code: string; step: number; fresh: boolean } {
    const step = this.token.kind === 'totp' ? Math.floor(nowMs / 1000 / this.token.period) : this.position;
    return { code: this.code(step), step, fresh: this.token.kind === 'hotp' || step > this.position };
  }

  /** The server used `step` (a right code, with the right password or not). */
  used(step: number): void {
    this.position = this.token.kind === 'totp' ? Math.max(this.position, step) : step + 1;
  }

  /** A code that matches no step the server may try: `offset` from the right one, off every code near it. */
  wrong(nowMs: number, offset: number): string {
    const centre = this.current(nowMs).step;
    const span = this.token.kind === 'totp' ? 3 : 12;
    const near = new Set(Array.from({ length: 2 * span + 1 }, (_, i) => this.code(Math.max(0, centre - span + i))));
    const modulus = 10 ** this.token.digits;
    for (let n = offset; ; n++) {
      const candidate = String((Number(this.code(centre)) + n) % modulus).padStart(this.token.digits, '0');
      if (!near.has(candidate)) return candidate;
    }
  }
}

interface UserState {
  user: CheckUser;
  token: TokenModel;
  /** The last accepted request through each client, to send again from another port. */
  captured: Partial<Record<Via, Buffer>>;
}

export interface CheckEndpoints {
  /** Where requests go out, per client. */
  request: Record<Via, Endpoint>;
  /** Where captured requests are sent again from: the same client address, another port. */
  replay: Record<Via, Endpoint>;
}

/**
 * Runs check actions against the node and records what came back. One check user has one request in flight at a
 * time (its token model must see the answers in order), in the order the actions were queued; different users run
 * side by side, and alongside the fuzzed datagrams.
 */
export class Checker {
  readonly counts: CheckCounts = { requests: 0, accept: 0, reject: 0, challenge: 0 };
  readonly wrong: WrongAnswer[] = [];
  /** Errors of the checker itself (not of the server). */
  readonly errors: string[] = [];
  private readonly users: UserState[];
  private readonly queues = new Map<UserState, Promise<void>>();
  private queued = 0;
  private waiters: Array<{ limit: number; resolve: () => void }> = [];
  private sequence = 0n;

  constructor(
    private readonly fixture: FuzzFixture,
    private readonly endpoints: CheckEndpoints,
    private readonly serverPort: number,
    private readonly context: EncodeContext,
    /** A challenge State the server issued and took back: the fuzzer replays these. */
    private readonly onUsedState: (state: Buffer) => void,
  ) {
    this.users = fixture.checkUsers.map((user) => ({ user, token: new TokenModel(user.token), captured: {} }));
  }

  /** Resolves once at most `limit` actions are unfinished. */
  async below(limit: number): Promise<void> {
    if (this.queued > limit) await new Promise<void>((resolve) => this.waiters.push({ limit, resolve }));
  }

  /** Queue actions behind the ones their users already have. */
  enqueue(actions: readonly CheckAction[]): void {
    for (const a of actions) {
      const u = this.users[a.user % this.users.length]!;
      this.queued++;
      const next = (this.queues.get(u) ?? Promise.resolve())
        .then(() => (u.user.mode === 'challenge' ? this.challenge(u, a) : this.inline(u, a)))
        .catch((err: unknown) => void this.errors.push(errorStack(err)))
        .finally(() => {
          this.queued--;
          this.waiters = this.waiters.filter((w) => w.limit < this.queued || void w.resolve());
        });
      this.queues.set(u, next);
    }
  }

  /** Resolves once every queued action has its answer. */
  async idle(): Promise<void> {
    await Promise.all(this.queues.values());
  }

  private secret(via: Via): Buffer {
    return Buffer.from(via === 'ma-required' ? this.fixture.maRequired.secret : this.fixture.maOptional.secret);
  }

  private request(u: UserState, a: CheckAction, password: string, state?: Buffer): Buffer {
    const withMa = a.via === 'ma-required' || a.messageAuthenticator;
    const authenticator = Buffer.alloc(16);
    Buffer.from(a.nonce).copy(authenticator);
    authenticator.writeBigUInt64BE(this.sequence++, 8);
    const attributes: AttributePlan[] = [
      { kind: 'user-name', value: Buffer.from(u.user.name) },
      { kind: 'user-password', password },
      ...(state ? [{ kind: 'other' as const, type: ATTR.STATE, value: state }] : []),
      ...(withMa ? a.proxyStates.map((value) => ({ kind: 'other' as const, type: ATTR.PROXY_STATE, value })) : []),
    ];
    const plan = {
      code: CODE.ACCESS_REQUEST,
      identifier: this.endpoints.request[a.via].identifier(),
      authenticator,
      attributes,
      messageAuthenticator: withMa ? ({ kind: 'signed', position: 0 } as const) : ({ kind: 'none' } as const),
      wrongSecret: false,
      trailer: undefined,
    };
    return encodePacket(plan, this.secret(a.via), this.context).bytes;
  }

  /**
   * Send `request` (from the replay port when told), check the answer against `expected`, and return it when it is
   * the expected one.
   */
  private async expect(what: string, via: Via, request: Buffer, expected: number, fromReplayPort = false): Promise<Buffer | undefined> {
    const secret = this.secret(via);
    const endpoint = (fromReplayPort ? this.endpoints.replay : this.endpoints.request)[via];
    this.counts.requests++;
    const answer = await endpoint.exchange(request, this.serverPort, (a) => signedFor(a, request, secret));
    const problem = answer ? answerProblem(answer, request, secret) : undefined;
    const got = answer?.[0];
    if (got === CODE.ACCESS_ACCEPT) this.counts.accept++;
    else if (got === CODE.ACCESS_REJECT) this.counts.reject++;
    else if (got === CODE.ACCESS_CHALLENGE) this.counts.challenge++;
    const state = answer && got === CODE.ACCESS_CHALLENGE ? stateOf(answer) : undefined;
    const stateProblem = got === CODE.ACCESS_CHALLENGE && !state ? 'an Access-Challenge without State' : undefined;
    if (got === expected && !problem && !stateProblem) return answer;
    this.wrong.push({
      what,
      expected: ANSWER_NAMES[expected]!,
      got: problem ?? stateProblem ?? answerName(got),
      request: request.toString('hex'),
      answer: answer?.toString('hex'),
    });
    return undefined;
  }

  private async inline(u: UserState, a: CheckAction): Promise<void> {
    const what = `${u.user.name}, ${a.kind} via ${a.via}`;
    if (a.kind === 'replay' && u.captured[a.via]) {
      await this.expect(`${what}: an accepted request again from another port`, a.via, u.captured[a.via]!, CODE.ACCESS_REJECT, true);
      return;
    }
    const now = u.token.current(Date.now());
    if (a.kind === 'right') {
      const request = this.request(u, a, `${u.user.password}${now.code}`);
      const expected = now.fresh ? CODE.ACCESS_ACCEPT : CODE.ACCESS_REJECT;
      const answer = await this.expect(`${what} (${now.fresh ? 'unused' : 'used'} code)`, a.via, request, expected);
      if (now.fresh) u.token.used(now.step);
      if (answer && now.fresh) u.captured[a.via] = request;
    } else if (a.kind === 'wrong-password') {
      // the code is used up by a wrong password too: a stolen code buys one guess
      await this.expect(what, a.via, this.request(u, a, `wrong-${u.user.password}${now.code}`), CODE.ACCESS_REJECT);
      if (now.fresh) u.token.used(now.step);
    } else {
      const password = a.kind === 'no-code' ? u.user.password : `${u.user.password}${u.token.wrong(Date.now(), a.codeOffset)}`;
      await this.expect(what, a.via, this.request(u, a, password), CODE.ACCESS_REJECT);
    }
  }

  /** Password, Access-Challenge with a State, then the code with the State; the State again is refused. */
  private async challenge(u: UserState, a: CheckAction): Promise<void> {
    const what = `${u.user.name} (challenge), ${a.kind} via ${a.via}`;
    if (a.kind === 'replay' && u.captured[a.via]) {
      await this.expect(`${what}: an accepted answer again from another port`, a.via, u.captured[a.via]!, CODE.ACCESS_REJECT, true);
      return;
    }
    if (a.kind === 'wrong-password') {
      await this.expect(what, a.via, this.request(u, a, `wrong-${u.user.password}`), CODE.ACCESS_REJECT);
      return;
    }
    const challenge = await this.expect(`${what}: the password`, a.via, this.request(u, a, u.user.password), CODE.ACCESS_CHALLENGE);
    if (!challenge) return;
    const state = stateOf(challenge)!;
    const now = u.token.current(Date.now());
    const right = a.kind === 'right' || a.kind === 'replay';
    const code = right ? now.code : a.kind === 'no-code' ? '' : u.token.wrong(Date.now(), a.codeOffset);
    const request = this.request(u, a, code, state);
    const expected = right && now.fresh ? CODE.ACCESS_ACCEPT : CODE.ACCESS_REJECT;
    const answer = await this.expect(`${what}: the code with the State`, a.via, request, expected);
    if (right && now.fresh) u.token.used(now.step);
    if (answer && expected === CODE.ACCESS_ACCEPT) u.captured[a.via] = request;
    // the State was taken: even the code the token shows now must not get through with it, nor be used up by it
    const again = u.token.current(Date.now());
    await this.expect(`${what}: the same State again`, a.via, this.request(u, a, again.code, state), CODE.ACCESS_REJECT);
    this.onUsedState(state);
  }
}

function stateOf(answer: Buffer): Buffer | undefined {
  const parsed = parseRequest(answer);
  return parsed.ok ? parsed.request.state : undefined;
}
