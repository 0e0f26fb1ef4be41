/**
 * The admin UI's users pages on a master with many users (issue 8), driven by bench/ui-users.sh.
 *
 *   node bench/results/build/ui-users.js build DATA_DIR USERS
 *     A data dir holding USERS users (user0 ... userN-1, display name "User I", e-mail userI@example.com, no local
 *     password), each with a TOTP token; groups "vpn" (the even users) and "admins" (user0), as slapd.sh makes them.
 *     Through the core services in one process (as bench/load-users.ts), a thousand users per transaction.
 *
 *   node bench/results/build/ui-users.js measure ADMIN_URL CERT_FILE ADMIN_USER [REQUESTS=200] [WARMUP=20]
 *     Signs in as ADMIN_USER (password on stdin) the way a browser does, then requests each page REQUESTS times, one
 *     after the other over one kept-alive HTTPS connection (undici), and prints per page the median and p95 time
 *     from sending the request to the last byte of the answer. On loopback with nothing else in flight, that is the
 *     server's time plus a fraction of a millisecond. Prints one line per page and, last, a JSON line.
 */
import { readFileSync } from 'node:fs';
import { Store, createLogger, createServices, loadDictionary, type Actor } from '@otpgate/core';
import { AdminSession, pageLine, type PageTimes } from './ui-session.js';

const actor: Actor = { name: 'bench', source: 'bench/ui-users' };

async function build(dataDir: string, n: number): Promise<void> {
  const started = performance.now();
  const store = await Store.create(dataDir);
  // warn: one admin log line per user and token would be 2 x USERS lines of noise
  const logger = createLogger('warn', 'bench-ui', process.stderr);
  const services = createServices({ store, dictionary: loadDictionary([]), logger });
  try {
    services.groups.add({ name: 'vpn', description: 'even users' }, actor);
    services.groups.add({ name: 'admins', description: 'user0' }, actor);
    const batch = 1000;
    for (let from = 0; from < n; from += batch) {
      // one transaction per thousand users (each add is its own savepoint inside it): the same records and change-log
      // entries as one CLI call per user, without a commit per user
      const adds: Array<Promise<unknown>> = [];
      store.db.transaction(() => {
        for (let i = from; i < Math.min(n, from + batch); i++) {
          const username = `user${i}`;
          const groups = [...(i % 2 === 0 ? ['vpn'] : []), ...(i === 0 ? ['admins'] : [])];
          // no password: users.add runs synchronously up to its commit (only hashing a password awaits)
          adds.push(services.users.add({ username, display_name: `User ${i}`, email: `${username}@example.com`, password: null, groups }, actor));
          services.tokens.add(username, { label: 'bench' }, actor);
        }
      });
      await Promise.all(adds);
      if ((from + batch) % 10_000 === 0) {
        const secs = (performance.now() - started) / 1000;
        console.error(`  ${from + batch}/${n} users (${((from + batch) / secs).toFixed(0)}/s)`);
      }
    }
  } finally {
    store.close();
  }
  console.log(`built ${n} users with TOTP tokens, groups vpn (${Math.ceil(n / 2)}) and admins (1) in ${dataDir} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

async function measure(url: string, certFile: string, admin: string, requests: number, warmup: number): Promise<void> {
  const session = await AdminSession.signIn(url, certFile, admin, readFileSync(0, 'utf8').trim());
  const total = await session.countOf('/users');

  // named from the count, so any USERS works (for 100,000: page 1000, user99999, user12345);
  // LAST: the last page of that list (50 users a page), from the count its first page shows
  const middle = Math.max(1, Math.ceil(total / 100));
  const lastUser = `user${total - 1}`;
  const someUser = `user${Math.floor(total * 0.12345)}`;
  const pages: Array<[string, string]> = [
    ['list, first page', '/users'],
    [`list, page ${middle} (middle)`, `/users?page=${middle}`],
    ['list, last page', '/users?page=LAST'],
    [`search, one match (q=${lastUser})`, `/users?q=${lastUser}`],
    ['search, many matches (q=user1)', '/users?q=user1'],
    ['group filter (group=vpn)', '/users?group=vpn'],
    [`user page (${someUser})`, `/users/${someUser}`],
    ['(extra) search many, last page', '/users?q=user1&page=LAST'],
    ['(extra) group filter, last page', '/users?group=vpn&page=LAST'],
  ];

  const results: PageTimes[] = [];
  for (const [label, template] of pages) {
    const path = template.includes('LAST')
      ? template.replace('LAST', String(Math.max(1, Math.ceil((await session.countOf(template.replace(/[?&]page=LAST/, ''))) / 50))))
      : template;
    const r = await session.time(label, path, requests, warmup);
    results.push(r);
    console.log(pageLine(r));
  }
  await session.close();
  console.log(JSON.stringify({ total, requests, warmup, results }));
}

const [command, ...args] = process.argv.slice(2);
if (command === 'build' && args.length === 2) {
  await build(args[0]!, Number(args[1]));
} else if (command === 'measure' && args.length >= 3) {
  await measure(args[0]!, args[1]!, args[2]!, Number(args[3] ?? 200), Number(args[4] ?? 20));
} else {
  console.error('usage: ui-users.js build DATA_DIR USERS | measure ADMIN_URL CERT_FILE ADMIN_USER [REQUESTS] [WARMUP] (password on stdin)');
  process.exit(2);
}
