/**
 * The node the RADIUS fuzzer talks to (bench/fuzz.ts, test/radius-fuzz.test.ts), set up through the real `otpgate`
 * command: two clients on loopback, one that must send a Message-Authenticator (127.0.0.1) and one that need not
 * (127.0.0.2), so both paths of the server's check are fuzzed; the users whose requests the fuzzer mutates; and the
 * users whose answers it checks, each with a token whose codes it computes.
 *
 * Lockout is raised to its maximum: a check user takes at most a few dozen failures between two accepts, and the
 * fuzzed users take thousands, which would otherwise turn every later answer into "locked".
 */
export interface FuzzClient {
  address: string;
  secret: string;
}

export interface CheckUser {
  name: string;
  password: string;
  /** inline: password+code in one request; challenge: password, Access-Challenge, then the code with the State. */
  mode: 'inline' | 'challenge';
  /** As the otpauth:// URI of `otpgate token add` gives it: base32 secret, HOTP counter, TOTP period. */
  token: { kind: 'totp' | 'hotp'; secret: string; algorithm: 'SHA1' | 'SHA256' | 'SHA512'; digits: 6 | 8; period: number; counter: number };
}

export interface FuzzFixture {
  maRequired: FuzzClient;
  maOptional: FuzzClient;
  /** A loopback address that is no client: everything from it must be dropped. */
  unknownAddress: string;
  checkUsers: CheckUser[];
}

/** Users the fuzzed requests name (besides made-up ones); nothing about their answers is predicted. */
export const FUZZ_USERS = { inline: 'fuzz-inline', codeOnly: 'fuzz-code' } as const;
export const FUZZ_PASSWORD = 'fuzz-password';

/** Runs `otpgate ARGS` against the node's config, `input` on standard input; resolves with standard output. */
export type Cli = (args: string[], input?: string) => Promise<string>;

const CHECK_USERS: ReadonlyArray<Omit<CheckUser, 'token'> & { kind: 'totp' | 'hotp' }> = [
  { name: 'check-totp-a', password: 'check-password-a', mode: 'inline', kind: 'totp' },
  { name: 'check-totp-b', password: 'check-password-b', mode: 'inline', kind: 'totp' },
  { name: 'check-totp-c', password: 'check-password-c', mode: 'inline', kind: 'totp' },
  { name: 'check-hotp-a', password: 'check-password-d', mode: 'inline', kind: 'hotp' },
  { name: 'check-hotp-b', password: 'check-password-e', mode: 'inline', kind: 'hotp' },
  { name: 'check-challenge', password: 'check-password-f', mode: 'challenge', kind: 'totp' },
];

/** Run `jobs`, `width` at a time. */
async function inTurns(jobs: ReadonlyArray<() => Promise<void>>, width: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) await jobs[next++]!();
  };
  await Promise.all(Array.from({ length: width }, worker));
}

/**
 * Set the node up. Each command is a process of its own that takes a second or more on a busy machine, so users are
 * made a few at a time (each write is its own transaction; the store waits for a busy database).
 */
export async function prepareFuzzNode(cli: Cli): Promise<FuzzFixture> {
  const fixture: FuzzFixture = {
    maRequired: { address: '127.0.0.1', secret: 'fuzz-secret-required' },
    maOptional: { address: '127.0.0.2', secret: 'fuzz-secret-optional' },
    unknownAddress: '127.0.0.3',
    checkUsers: [],
  };
  const jobs: Array<() => Promise<void>> = [
    async () => void (await cli(['settings', 'set', 'lockout.max_failures', '1000'])),
    async () => void (await cli(['client', 'add', 'fuzz-ma', fixture.maRequired.address, '--secret-stdin'], fixture.maRequired.secret)),
    async () =>
      void (await cli(
        ['client', 'add', 'fuzz-no-ma', fixture.maOptional.address, '--secret-stdin', '--no-require-message-authenticator'],
        fixture.maOptional.secret,
      )),
    ...(
      [
        [FUZZ_USERS.inline, 'inline'],
        [FUZZ_USERS.codeOnly, 'code-only'],
      ] as const
    ).map(([name, mode]) => async () => {
      await cli(['user', 'add', name, '--password-stdin', '--mode', mode], FUZZ_PASSWORD);
      await cli(['token', 'add', name]);
    }),
    ...CHECK_USERS.map((user) => async () => {
      await cli(['user', 'add', user.name, '--password-stdin', '--mode', user.mode], user.password);
      const { uri } = JSON.parse(await cli(['token', 'add', user.name, '--type', user.kind, '--json'])) as { uri: string };
      const params = new URL(uri).searchParams;
      fixture.checkUsers.push({
        name: user.name,
        password: user.password,
        mode: user.mode,
        token: {
          kind: user.kind,
          secret: params.get('secret')!,
          algorithm: (params.get('algorithm') ?? 'SHA1') as CheckUser['token']['algorithm'],
          digits: Number(params.get('digits') ?? 6) === 8 ? 8 : 6,
          period: Number(params.get('period') ?? 30),
          counter: Number(params.get('counter') ?? 0),
        },
      });
    }),
  ];
  await inTurns(jobs, 4);
  fixture.checkUsers.sort((a, b) => a.name.localeCompare(b.name));
  return fixture;
}
