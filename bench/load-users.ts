/**
 * Build an otpgate data dir holding the bench users (the users.csv that ../shared/bench/gen.mjs writes), fast:
 * through the core services in one process instead of one CLI call per user, with the argon2id hashes computed a
 * few at a time on libuv's thread pool. The hash parameters are the product's own (ARGON2_OPTIONS): never weakened.
 *
 * Usage: node bench/results/build/load-users.js USERS_CSV DATA_DIR engine|local|directory [CONCURRENCY=6]
 *   engine:    users in code-only mode without a local password (the code is the whole User-Password)
 *   local:     users with a local argon2id password, inline mode (password+code)
 *   directory: users without a local password, inline mode (password+code): the password is checked by a directory
 *              (bench/run.sh adds the LDAP backend and puts it in the chain for each run)
 * Client 127.0.0.1 / testing123 is added. DATA_DIR must not exist yet.
 */
import { readFileSync } from 'node:fs';
import { ARGON2_OPTIONS, Store, createLogger, createServices, loadDictionary, type Actor } from '@otpgate/core';

const [csvPath, dataDir, workload, concurrencyArg = '6'] = process.argv.slice(2);
if (!csvPath || !dataDir || (workload !== 'engine' && workload !== 'local' && workload !== 'directory')) {
  console.error('usage: load-users.js USERS_CSV DATA_DIR engine|local|directory [CONCURRENCY]');
  process.exit(2);
}
const concurrency = Math.max(1, Number(concurrencyArg) || 6);
const actor: Actor = { name: 'bench', source: 'bench/load-users' };

interface BenchUser {
  username: string;
  password: string;
  secret: string;
}

function readUsers(path: string): BenchUser[] {
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '');
  if (lines[0] !== 'username,password,secret') throw new Error(`${path}: expected the header "username,password,secret"`);
  return lines.slice(1).map((line, i) => {
    const [username, password, secret] = line.split(',');
    if (!username || !password || !secret) throw new Error(`${path}:${i + 2}: expected username,password,secret`);
    return { username, password, secret };
  });
}

const users = readUsers(csvPath);
const store = await Store.create(dataDir);
// warn: one admin log line per user and token would be 2 x USERS lines of noise
const logger = createLogger('warn', 'bench-loader', process.stderr);
const services = createServices({ store, dictionary: loadDictionary([]), logger });
services.clients.add({ name: 'bench', address: '127.0.0.1', secret: 'testing123' }, actor);

const local = workload === 'local';
const started = performance.now();
let done = 0;
let next = 0;

function progress(): void {
  if (++done % 2000 === 0) {
    const secs = (performance.now() - started) / 1000;
    console.error(`  ${done}/${users.length} users (${(done / secs).toFixed(0)}/s)`);
  }
}

async function worker(): Promise<void> {
  while (next < users.length) {
    const user = users[next++]!;
    // users.add hashes (awaits the thread pool) before its synchronous transaction, so workers overlap the hashing
    await services.users.add({ username: user.username, password: user.password, auth_mode: 'inline' }, actor);
    services.tokens.add(user.username, { secret: user.secret, label: 'bench' }, actor);
    progress();
  }
}

/**
 * Without a password to hash, a thousand users per transaction (each add is its own savepoint inside it): the same
 * records and change-log entries as one add at a time, without a commit per user (1,000,000 users in minutes, not
 * half an hour).
 */
async function batches(): Promise<void> {
  const batch = 1000;
  for (let from = 0; from < users.length; from += batch) {
    const adds: Array<Promise<unknown>> = [];
    store.db.transaction(() => {
      for (const user of users.slice(from, from + batch)) {
        // no password: users.add runs synchronously up to its commit (only hashing a password awaits)
        adds.push(services.users.add({ username: user.username, password: null, auth_mode: workload === 'engine' ? 'code-only' : 'inline' }, actor));
        services.tokens.add(user.username, { secret: user.secret, label: 'bench' }, actor);
        progress();
      }
    });
    await Promise.all(adds);
  }
}

try {
  if (local) await Promise.all(Array.from({ length: concurrency }, worker));
  else await batches();
} finally {
  store.close();
}
const secs = (performance.now() - started) / 1000;
const hash = local
  ? `argon2id m=${ARGON2_OPTIONS.memoryCost} KiB t=${ARGON2_OPTIONS.timeCost} p=${ARGON2_OPTIONS.parallelism}`
  : workload === 'directory'
    ? 'no local password: inline mode, the password is for a directory'
    : 'no password';
console.log(`loaded ${done} ${workload} users with TOTP tokens into ${dataDir} in ${secs.toFixed(1)} s (${hash})`);
