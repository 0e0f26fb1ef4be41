/**
 * Soak (bench/soak.sh): a master and two replicas, real `otpgate serve` processes on loopback, under mixed load for
 * MINUTES: Accepts, Rejects, identical retransmits, the same code sent to two nodes at once, malformed datagrams,
 * challenge flows (password, Access-Challenge, code), the admin UI (sign in, list users, change a user) and imports
 * of a few thousand users every few minutes. Midway a replica is killed (kill -9) and restarted, then the master.
 *
 * Prints: accepts lost (right codes a node that stayed up did not accept), replays accepted (a code that got two
 * Accepts anywhere in the cluster), wrong answers, requests answered during each restart, and per node the RSS and
 * the size of its databases (otpgate.db + state.db + their WAL files) at the start and at the end. Exits 1 when an
 * accept was lost, a replay accepted or an answer wrong.
 *
 * Usage: node bench/results/build/soak.js CLI OUT_DIR MINUTES RATE PORT
 *   CLI: the otpgate command's main.js; RATE: RADIUS requests a second over the three nodes; PORT: the master's RADIUS
 *   port (replicas PORT+1 and PORT+2, replication API PORT+3, master admin UI PORT+4)
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ATTR, CODE, codeAt, fromBase32 } from '@otpgate/core';
import { AdminClient } from './admin-client.js';
import { BenchNode, og } from './bench-node.js';
import { accessRequest as request, answersRequest, attribute } from './radius-packets.js';
import { csvUserName, csvUserSecret } from './users-csv.js';
import { errorMessage } from '@otpgate/shared';

const [cli = '', out = '', minutesArg = '30', rateArg = '100', portArg = '18180'] = process.argv.slice(2);
const MINUTES = Number(minutesArg);
const RATE = Number(rateArg);
const PORT = Number(portArg);
if (!cli || !out || !(MINUTES > 0) || !(RATE > 0) || !(PORT > 0)) {
  console.error('usage: soak.js CLI OUT_DIR MINUTES RATE PORT');
  process.exit(2);
}
const SECRET = 'soak-shared-secret-1234';
const ADMIN_PW = 'Soak-Admin-Password-5t';
const CHALLENGE_PW = 'challenge-password';
/** How long a request waits for its answer. */
const TIMEOUT_MS = 4000;
const POOLS = { accept: 4000, wrong: 500, pair: 1500, ui: 200, challenge: 20 };
const RUN_MS = MINUTES * 60_000;
const IMPORT_EVERY_MS = Math.min(240_000, Math.max(60_000, RUN_MS / 5));
const IMPORT_ROWS = 2000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();
const totp = (name: string) => codeAt({ key: fromBase32(csvUserSecret(name)), algorithm: 'SHA1', digits: 6 }, Math.floor(Date.now() / 30_000));
const wrongCodeOf = (name: string) => String((Number(totp(name)) + 500_000) % 1_000_000).padStart(6, '0');

// --- RADIUS ---------------------------------------------------------------------------------------------------------

const accessRequest = (id: number, username: string, password: string, state?: Buffer) => request({ id, username, password, secret: SECRET, state });

/** UDP sockets on 127.0.0.1; each request waits for its own answer (port, identifier, Response Authenticator). */
class Radius {
  private readonly sockets: Array<{ socket: dgram.Socket; pending: Map<number, { packet: Buffer; done: (a: Buffer | undefined) => void }> }> = [];
  private turn = 0;
  /** Answers to datagrams that must be dropped (sent from the last socket only). */
  answeredMalformed = 0;

  static async open(count: number): Promise<Radius> {
    const r = new Radius();
    for (let i = 0; i <= count; i++) {
      const socket = dgram.createSocket('udp4');
      const entry = { socket, pending: new Map<number, { packet: Buffer; done: (a: Buffer | undefined) => void }>() };
      const malformed = i === count;
      socket.on('message', (m) => (malformed ? r.answeredMalformed++ : r.onAnswer(entry.pending, m)));
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
      r.sockets.push(entry);
    }
    return r;
  }

  private onAnswer(pending: Map<number, { packet: Buffer; done: (a: Buffer | undefined) => void }>, answer: Buffer): void {
    const p = answer.length >= 20 ? pending.get(answer[1]!) : undefined;
    if (!p || !answersRequest(answer, p.packet.subarray(4, 20), SECRET)) return;
    pending.delete(answer[1]!);
    p.done(answer);
  }

  /** A socket and an identifier free on it, for a new request. */
  slot(): { socket: number; id: number } {
    for (let tries = 0; tries < this.sockets.length - 1; tries++) {
      const socket = this.turn++ % (this.sockets.length - 1);
      const pending = this.sockets[socket]!.pending;
      for (let k = 0; k < 256; k++) {
        const id = randomBytes(1)[0]!;
        if (!pending.has(id)) return { socket, id };
      }
    }
    throw new Error('no free RADIUS identifier: the nodes do not answer');
  }

  /** Whether a request with this identifier waits for its answer on `socket`. */
  busy(socket: number, id: number): boolean {
    return this.sockets[socket]!.pending.has(id);
  }

  /** Send `packet` from `socket`; the answer, or undefined after TIMEOUT_MS. */
  request(socket: number, packet: Buffer, port: number): Promise<Buffer | undefined> {
    const { socket: s, pending } = this.sockets[socket]!;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        pending.delete(packet[1]!);
        resolve(undefined);
      }, TIMEOUT_MS);
      pending.set(packet[1]!, {
        packet,
        done: (a) => {
          clearTimeout(timer);
          resolve(a);
        },
      });
      s.send(packet, port, '127.0.0.1');
    });
  }

  malformed(port: number): void {
    const kind = Math.random();
    let packet: Buffer;
    if (kind < 0.4) packet = randomBytes(20 + Math.floor(Math.random() * 200));
    else {
      packet = accessRequest(randomBytes(1)[0]!, csvUserName('accept', 0), '123456');
      if (kind < 0.7) packet[packet.length - 1]! ^= 0xff; // the Message-Authenticator no longer verifies
      else packet = packet.subarray(0, packet.length - 3); // shorter than its Length field
    }
    this.sockets.at(-1)!.socket.send(packet, port, '127.0.0.1');
  }

  close(): void {
    for (const s of this.sockets) s.socket.close();
  }
}

// --- the run --------------------------------------------------------------------------------------------------------

interface Outcome {
  kind: string;
  node: BenchNode;
  sentAt: number;
  answeredAt?: number;
  ok: boolean;
  detail?: string;
}

async function main(): Promise<void> {
  mkdirSync(out, { recursive: true });
  const master = new BenchNode(cli, 'master', join(out, 'master'), PORT);
  const replicas = [1, 2].map((i) => new BenchNode(cli, `r${i}`, join(out, `r${i}`), PORT + i));
  const nodes = [master, ...replicas];
  const common = (n: BenchNode, admin: string) =>
    `node:\n  name: ${n.name}\n  data_dir: ${JSON.stringify(join(n.dir, 'data'))}\nradius:\n  listen: ["127.0.0.1:${n.port}"]\nlog:\n  level: info\n` +
    `metrics:\n  listen: ["127.0.0.1:0"]\nadmin:\n  listen: ["127.0.0.1:${admin}"]\n`;
  writeFileSync(master.config, common(master, String(PORT + 4)) + `cluster:\n  listen: ["127.0.0.1:${PORT + 3}"]\n`);
  for (const r of replicas) writeFileSync(r.config, common(r, '0'));

  console.log(`setting up: a master and two replicas on 127.0.0.1:${PORT}-${PORT + 4}, in ${out}`);
  await master.ogOk(['init']);
  await master.ogOk(['admin', 'set-password', '--password-stdin'], ADMIN_PW);
  await master.ogOk(['cluster', 'init', '--host', '127.0.0.1']);
  await master.ogOk(['client', 'add', 'local', '127.0.0.1', '--secret-stdin', '--mode', 'code-only'], SECRET);
  const csv = ['username,display name,email,groups,token secret'];
  for (const pool of ['accept', 'wrong', 'pair', 'ui'] as const) {
    for (let i = 0; i < POOLS[pool]; i++) csv.push(`${csvUserName(pool, i)},${pool} ${i},,,${csvUserSecret(csvUserName(pool, i))}`);
  }
  writeFileSync(join(out, 'users.csv'), csv.join('\n') + '\n');
  await master.ogOk(['import', 'users-csv', join(out, 'users.csv'), '--commit']);
  // challenge users: a password (argon2id), the challenge mode, a token of a known secret (imported, then changed)
  const challengeCsv = ['username,display name,email,groups,token secret'];
  for (let i = 0; i < POOLS.challenge; i++) challengeCsv.push(`${csvUserName('chal', i)},,,,${csvUserSecret(csvUserName('chal', i))}`);
  writeFileSync(join(out, 'challenge.csv'), challengeCsv.join('\n') + '\n');
  await master.ogOk(['import', 'users-csv', join(out, 'challenge.csv'), '--commit']);
  for (let i = 0; i < POOLS.challenge; i++) {
    await master.ogOk(['user', 'set-password', csvUserName('chal', i), '--password-stdin'], CHALLENGE_PW);
    await master.ogOk(['user', 'set', csvUserName('chal', i), '--mode', 'challenge']);
  }
  for (const r of replicas) {
    await master.ogOk(['cluster', 'add-replica', r.name, '--out', join(r.dir, 'bundle.json')]);
    await r.ogOk(['replica', 'join', join(r.dir, 'bundle.json')]);
  }
  await master.start();
  await Promise.all(replicas.map((r) => r.start()));
  console.log(`started; ${MINUTES} min of load at ${RATE} requests/s; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);

  const radius = await Radius.open(12);
  const outcomes: Outcome[] = [];
  const pending: Array<Promise<void>> = [];
  /** Every Accept by user and code: more than one is a replay accepted. */
  const accepted = new Map<string, Array<{ node: string; at: number; masterDown: boolean }>>();
  const noteAccept = (user: string, code: string, node: BenchNode, at: number) => {
    const key = `${user}:${code}`;
    const list = accepted.get(key) ?? [];
    list.push({ node: node.name, at, masterDown: master.downDuring(at - TIMEOUT_MS, at) });
    accepted.set(key, list);
  };
  let turn = 0;
  let malformedSent = 0;
  const nextNode = () => nodes[turn++ % nodes.length]!;
  const cursor = { accept: 0, wrong: 0, pair: 0, challenge: 0, ui: 0 };
  const recent: Array<{ socket: number; packet: Buffer; answer: Buffer; node: BenchNode }> = [];

  const track = (kind: string, node: BenchNode, run: () => Promise<{ ok: boolean; detail?: string } | undefined>) => {
    const o: Outcome = { kind, node, sentAt: now(), ok: false };
    outcomes.push(o);
    pending.push(
      run().then((r) => {
        if (r) {
          o.answeredAt = now();
          o.ok = r.ok;
          o.detail = r.detail;
        }
      }),
    );
  };

  const oneRequest = () => {
    const pick = Math.random() * 100;
    const node = nextNode();
    if (pick < 55) {
      const user = csvUserName('accept', cursor.accept++ % POOLS.accept);
      const code = totp(user);
      const { socket, id } = radius.slot();
      const packet = accessRequest(id, user, code);
      track('accept', node, async () => {
        const a = await radius.request(socket, packet, node.port);
        if (!a) return undefined;
        if (a[0] === CODE.ACCESS_ACCEPT) {
          noteAccept(user, code, node, now());
          recent.push({ socket, packet, answer: a, node });
          if (recent.length > 50) recent.shift();
        }
        return { ok: a[0] === CODE.ACCESS_ACCEPT, detail: `answer ${a[0]} for ${user}` };
      });
    } else if (pick < 75) {
      const user = csvUserName('wrong', cursor.wrong++ % POOLS.wrong);
      const { socket, id } = radius.slot();
      const packet = accessRequest(id, user, wrongCodeOf(user));
      track('reject', node, async () => {
        const a = await radius.request(socket, packet, node.port);
        return a && { ok: a[0] === CODE.ACCESS_REJECT, detail: `answer ${a[0]} for a wrong code of ${user}` };
      });
    } else if (pick < 85) {
      // an identical retransmission of a request answered lately: the same answer, byte for byte (RFC 5080)
      const earlier = recent.shift();
      // its identifier may be another request's by now: that one keeps it
      if (!earlier || radius.busy(earlier.socket, earlier.packet[1]!)) return;
      track('retransmit', earlier.node, async () => {
        const a = await radius.request(earlier.socket, earlier.packet, earlier.node.port);
        return a && { ok: a.equals(earlier.answer), detail: `retransmission answered ${a[0]}, first answer ${earlier.answer[0]}` };
      });
    } else if (pick < 90) {
      // one code, two nodes, at the same instant: at most one Accept in the cluster
      const user = csvUserName('pair', cursor.pair++ % POOLS.pair);
      const code = totp(user);
      const other = nodes[(nodes.indexOf(node) + 1 + Math.floor(Math.random() * 2)) % nodes.length]!;
      for (const n of [node, other]) {
        const { socket, id } = radius.slot();
        const packet = accessRequest(id, user, code);
        track('pair', n, async () => {
          const a = await radius.request(socket, packet, n.port);
          if (!a) return undefined;
          if (a[0] === CODE.ACCESS_ACCEPT) noteAccept(user, code, n, now());
          return { ok: a[0] === CODE.ACCESS_ACCEPT || a[0] === CODE.ACCESS_REJECT };
        });
      }
    } else {
      malformedSent++;
      radius.malformed(node.port);
    }
  };

  const challengeFlow = () => {
    const node = nextNode();
    const user = csvUserName('chal', cursor.challenge++ % POOLS.challenge);
    track('challenge', node, async () => {
      const first = radius.slot();
      const a = await radius.request(first.socket, accessRequest(first.id, user, CHALLENGE_PW), node.port);
      if (!a) return undefined;
      const state = attribute(a, ATTR.STATE);
      if (a[0] !== CODE.ACCESS_CHALLENGE || !state) return { ok: false, detail: `answer ${a[0]} to ${user}'s password` };
      const code = totp(user);
      const second = radius.slot();
      const b = await radius.request(second.socket, accessRequest(second.id, user, code, state), node.port);
      if (!b) return undefined;
      if (b[0] === CODE.ACCESS_ACCEPT) noteAccept(user, code, node, now());
      return { ok: b[0] === CODE.ACCESS_ACCEPT, detail: `answer ${b[0]} to ${user}'s code` };
    });
  };

  const ui = { ok: 0, failed: 0, signIns: 0, lastError: '' };
  const admin = new AdminClient(`https://127.0.0.1:${PORT + 4}`);
  let signedIn = false;
  const adminRound = async () => {
    try {
      if (!signedIn) {
        await admin.signIn('admin', ADMIN_PW);
        signedIn = true;
        ui.signIns++;
      }
      const list = await admin.send(`/users?page=${1 + Math.floor(Math.random() * 20)}`);
      const user = csvUserName('ui', cursor.ui++ % POOLS.ui);
      const page = await admin.send(`/users/${user}`);
      const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1];
      if (list.status !== 200 || page.status !== 200 || !csrf) throw new Error(`list ${list.status}, user page ${page.status}`);
      const saved = await admin.send(`/users/${user}`, {
        method: 'POST',
        form: { _csrf: csrf, display_name: `changed ${Date.now()}`, email: '', groups: '', auth_mode: '', attributes: '', initial_login_until: '' },
      });
      if (saved.status !== 303) throw new Error(`save ${saved.status}`);
      ui.ok++;
    } catch (err) {
      ui.failed++;
      ui.lastError = errorMessage(err);
      signedIn = false;
    }
  };

  const imports: Array<{ at: number; ms: number; ok: boolean; rows: number }> = [];
  let importing: Promise<void> | undefined;
  const runImport = () => {
    const k = imports.length;
    const file = join(out, `import-${k}.csv`);
    const rows = ['username,display name,email,groups,token secret'];
    for (let i = 0; i < IMPORT_ROWS; i++) rows.push(`${csvUserName(`imp${k}x`, i)},imported ${k}/${i},,,${csvUserSecret(csvUserName(`imp${k}x`, i))}`);
    writeFileSync(file, rows.join('\n') + '\n');
    const entry = { at: now(), ms: 0, ok: false, rows: IMPORT_ROWS };
    imports.push(entry);
    importing = og(cli, master.config, ['import', 'users-csv', file, '--commit']).then((r) => {
      entry.ms = now() - entry.at;
      entry.ok = r.code === 0;
    });
  };

  const samples: Array<{ t: number; node: string; rss: number; db: number }> = [];
  const sample = () => {
    for (const n of nodes) if (n.proc?.exitCode === null && !n.downDuring(now(), now())) samples.push({ t: now(), node: n.name, rss: n.rssMiB(), db: n.dbMiB() });
  };

  // the schedule: RADIUS every 10 ms as due, a challenge flow every 3 s, the admin UI every 2 s, an import every
  // IMPORT_EVERY_MS, a sample every 10 s; a replica's kill at 45 % of the run, the master's at 60 %
  const t0 = now();
  let sent = 0;
  const tick = setInterval(() => {
    const due = Math.floor(((now() - t0) * RATE) / 1000);
    while (sent < due) {
      sent++;
      oneRequest();
    }
  }, 10);
  const timers = [
    setInterval(challengeFlow, 3000),
    setInterval(() => void adminRound(), 2000),
    setInterval(runImport, IMPORT_EVERY_MS),
    setInterval(sample, 10_000),
  ];
  const startSampleAt = Math.min(60_000, RUN_MS * 0.1);
  const restarts: Array<{ node: BenchNode; killedAt: number; upAt: number }> = [];
  const restart = async (node: BenchNode) => {
    await node.kill9();
    const killedAt = now();
    console.log(`  ${((killedAt - t0) / 1000).toFixed(0)} s: ${node.name} killed (kill -9)`);
    await sleep(5000);
    await node.restart();
    restarts.push({ node, killedAt, upAt: now() });
    console.log(`  ${((now() - t0) / 1000).toFixed(0)} s: ${node.name} serving again`);
  };
  await sleep(startSampleAt);
  sample();
  const startSamples = samples.slice(-nodes.length);
  await sleep(RUN_MS * 0.45 - (now() - t0));
  await restart(replicas[0]!);
  await sleep(Math.max(0, RUN_MS * 0.6 - (now() - t0)));
  await restart(master);
  await sleep(Math.max(0, RUN_MS - (now() - t0)));
  clearInterval(tick);
  for (const t of timers) clearInterval(t);
  sample();
  const endSamples = samples.slice(-nodes.length);
  await Promise.all(pending);
  await importing;
  await admin.close();

  // every replica at the master's head, then a user of the last import logs in on each node
  const head = await master.head();
  let converged = false;
  for (let i = 0; i < 600 && !converged; i++) {
    converged = (await Promise.all(replicas.map((r) => r.head()))).every((h) => h >= head);
    if (!converged) await sleep(500);
  }
  const lastImport = imports.filter((m) => m.ok).length - 1;
  const importedLogins: string[] = [];
  if (lastImport >= 0) {
    for (const [i, n] of nodes.entries()) {
      const user = csvUserName(`imp${lastImport}x`, i);
      const { socket, id } = radius.slot();
      const a = await radius.request(socket, accessRequest(id, user, totp(user)), n.port);
      importedLogins.push(`${n.name} ${a?.[0] === CODE.ACCESS_ACCEPT ? 'accept' : `answer ${a?.[0] ?? 'none'}`}`);
    }
  }
  radius.close();

  // --- figures ------------------------------------------------------------------------------------------------------
  const acrossRestart = (o: Outcome) => o.node.downDuring(o.sentAt - 1000, o.sentAt + TIMEOUT_MS);
  const counted = outcomes.filter((o) => !acrossRestart(o));
  const acceptsLost = counted.filter((o) => (o.kind === 'accept' || o.kind === 'challenge') && !o.ok);
  const wrong = counted.filter((o) => o.kind !== 'accept' && o.kind !== 'challenge' && o.answeredAt !== undefined && !o.ok);
  const unanswered = counted.filter((o) => o.answeredAt === undefined);
  const replays = [...accepted.entries()].filter(([, list]) => list.length > 1);
  const replaysMasterUp = replays.filter(([, list]) => !list.some((a) => a.masterDown));
  const byKind = (kind: string) => outcomes.filter((o) => o.kind === kind);
  const lines = [
    `soak: ${MINUTES} min, ${RATE} RADIUS requests/s over 3 nodes (+ a challenge flow every 3 s, the admin UI every 2 s, ${IMPORT_ROWS} users imported every ${(IMPORT_EVERY_MS / 60_000).toFixed(1)} min)`,
    `requests: ${outcomes.length} tracked (${['accept', 'reject', 'retransmit', 'pair', 'challenge'].map((k) => `${k} ${byKind(k).length}`).join(', ')}), malformed datagrams ${malformedSent}`,
    `accepts lost (right code, node up, no Accept): ${acceptsLost.length}${acceptsLost.length ? ` e.g. ${acceptsLost.slice(0, 3).map((o) => `${o.node.name} ${o.kind} ${o.detail ?? 'no answer'}`).join('; ')}` : ''}`,
    `replays accepted (a code with two Accepts): ${replaysMasterUp.length} while the master was up; ${replays.length - replaysMasterUp.length} while it was down (best-effort claims decide locally then)`,
    `wrong answers (rejects, retransmissions, pairs): ${wrong.length}${wrong.length ? ` e.g. ${wrong.slice(0, 3).map((o) => `${o.node.name} ${o.kind} ${o.detail ?? ''}`).join('; ')}` : ''}`,
    `unanswered while the node was up: ${unanswered.length} (of which accepts ${unanswered.filter((o) => o.kind === 'accept').length}); answers to malformed datagrams: ${radius.answeredMalformed}`,
    ...restarts.map(({ node, killedAt, upAt }) => {
      const during = outcomes.filter((o) => o.sentAt >= killedAt && o.sentAt <= upAt);
      const per = nodes.map((n) => {
        const mine = during.filter((o) => o.node === n);
        return `${n.name} ${mine.filter((o) => o.answeredAt !== undefined).length}/${mine.length}`;
      });
      return `restart of ${node.name} (kill -9 to serving again: ${((upAt - killedAt) / 1000).toFixed(1)} s): requests answered ${per.join(', ')}`;
    }),
    `admin UI rounds (list users, open a user, change it): ${ui.ok} ok, ${ui.failed} failed${ui.failed ? ` (last: ${ui.lastError})` : ''}, ${ui.signIns} sign-ins`,
    `imports: ${imports.map((m) => `${m.ok ? 'ok' : 'FAILED'} ${(m.ms / 1000).toFixed(1)} s`).join(', ')}; replicas at the master's head (${head}) at the end: ${converged ? 'yes' : 'NO'}; a user of the last import logs in: ${importedLogins.join(', ')}`,
    ...nodes.map((n) => {
      const s = startSamples.find((x) => x.node === n.name);
      const e = endSamples.find((x) => x.node === n.name);
      const f = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(1));
      const restarted = restarts.some((r) => r.node === n) ? ' (restarted midway: the end is its new process)' : '';
      return `${n.name}: RSS ${f(s?.rss)} -> ${f(e?.rss)} MiB, databases ${f(s?.db)} -> ${f(e?.db)} MiB (start at ${(startSampleAt / 1000).toFixed(0)} s, end)${restarted}`;
    }),
  ];
  console.log(lines.join('\n'));
  writeFileSync(join(out, 'samples.tsv'), ['t_s\tnode\trss_mib\tdb_mib', ...samples.map((s) => `${((s.t - t0) / 1000).toFixed(0)}\t${s.node}\t${s.rss.toFixed(1)}\t${s.db.toFixed(2)}`)].join('\n') + '\n');
  await Promise.all(nodes.map((n) => n.stop()));
  if (acceptsLost.length > 0 || replaysMasterUp.length > 0 || wrong.length > 0 || !converged) process.exitCode = 1;
}

await main();
