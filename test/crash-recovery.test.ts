/**
 * Crashes in the middle of bulk writes (the hardening issue): kill -9 of the `otpgate` command during a
 * 100,000-row import, of the master while its admin UI commits one, of a replica while it applies a long run of feed
 * batches and of the master while it feeds it. After each, the store holds none or all of the change (users, tokens
 * and the change log agree, the hash chain is whole, both SQLite files pass integrity_check), and after a restart the
 * replica converges to the master's head with the same users.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNode } from './helpers/test-node.js';
import { CLI_PATH } from './helpers/paths.js';
import { AdminSession } from './helpers/admin-session.js';
import { eventually } from './helpers/eventually.js';
import { dataDirOf, storeFacts, upsertsAfter, type StoreFacts } from './helpers/store-facts.js';
import { writeUsersCsv } from '../bench/users-csv.js';

const ADMIN_PW = 'Admin-Password-crash-7q';
const ROWS = 100_000;

/** `otpgate import users-csv FILE --commit --progress` on `node`'s data folder, as a child process to kill. */
function startImport(node: TestNode, file: string): { child: ChildProcess; progress: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI_PATH, '-c', node.configPath, 'import', 'users-csv', file, '--commit', '--progress'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let progress = '';
  child.stderr.on('data', (d: Buffer) => (progress += d.toString()));
  child.stdout.resume();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, progress: () => progress, exited };
}

/** Sound files and a whole log; the users and tokens the log created since `from` are exactly the new rows. */
async function expectConsistent(node: TestNode, before: StoreFacts, facts: StoreFacts, running: boolean): Promise<void> {
  expect(facts.integrity).toEqual({ database: ['ok'], state: ['ok'] });
  expect(facts.chainBreaks).toBe(0);
  expect(facts.seqHoles).toBe(0);
  const logged = await upsertsAfter(dataDirOf(node), before.head.seq, { running });
  expect({ users: facts.users - before.users, tokens: facts.tokens - before.tokens }).toEqual(logged);
}

/** None or all of a ROWS-user import: which one it was. */
function noneOrAll(before: StoreFacts, facts: StoreFacts): 'none' | 'all' {
  if (facts.users === before.users && facts.head.seq === before.head.seq && facts.head.hash === before.head.hash) return 'none';
  expect(facts.users, 'neither none nor all of the import').toBe(before.users + ROWS);
  expect(facts.tokens).toBe(before.tokens + ROWS);
  return 'all';
}

describe('kill -9 during bulk writes: nothing half-applied, and the replica converges', () => {
  let master: TestNode;
  let replica: TestNode;
  let csv: string;

  beforeAll(async () => {
    master = await TestNode.createMaster('crash-master');
    await master.cliInput(ADMIN_PW, 'admin', 'set-password', '--password-stdin');
    await master.addClient('local', '127.0.0.1', 'testing123');
    csv = join(master.dir, 'first.csv');
    writeUsersCsv(csv, 'first', ROWS);
    writeUsersCsv(join(master.dir, 'second.csv'), 'second', ROWS);
    await master.start(60_000);
    replica = await TestNode.createReplica('crash-replica', master);
    // a replica starts serving once it has its snapshot: seconds on a busy machine
    await replica.start(60_000);
  }, 180_000);
  afterAll(async () => {
    await Promise.all([master?.stop(), replica?.stop()]);
  });

  it('the master killed while its admin UI commits a 100,000-user import: after the restart none or all of it', async () => {
    const before = await storeFacts(dataDirOf(master), { running: true });
    const admin = await AdminSession.signIn(master.adminUrl, 'admin', ADMIN_PW);
    const uploaded = await admin.post('/imports/preview', { _csrf: await admin.csrf('/imports'), format: 'users-csv' }, { field: 'file', name: 'first.csv', content: readFileSync(csv, 'utf8') });
    expect(uploaded.location).toBe('/imports/preview');
    const page = (await admin.get('/imports/preview')).body;
    const preview = /name="preview" value="([^"]+)"/.exec(page)?.[1];
    expect(preview, 'the preview page has a Commit form').toBeDefined();

    // the commit thread writes the whole import into the WAL before it commits: kill once a good part is written
    const wal = join(dataDirOf(master), 'otpgate.db-wal');
    const walBefore = statSync(wal).size;
    const commit = admin.post('/imports/commit', { _csrf: await admin.csrf('/imports/preview'), preview: preview! }).catch((err: Error) => err);
    await eventually('the commit writing', async () => statSync(wal).size > walBefore + 40 * 1024 * 1024, 120_000, 20);
    await master.kill();
    expect(await commit, 'the commit request died with the master').toBeInstanceOf(Error);

    const after = await storeFacts(dataDirOf(master), { running: false });
    await expectConsistent(master, before, after, false);
    console.log(`master killed during the admin UI's commit: ${noneOrAll(before, after)} of the import is there after the crash`);
    await master.start(60_000);
  }, 300_000);

  it('the otpgate command killed in the middle of its commit: none of the import', async () => {
    const before = await storeFacts(dataDirOf(master), { running: true });
    const run = startImport(master, csv);
    await eventually('the commit half done', async () => /^commit: [5-9]0%/m.test(run.progress()), 240_000, 20);
    run.child.kill('SIGKILL');
    await run.exited;
    const after = await storeFacts(dataDirOf(master), { running: true });
    await expectConsistent(master, before, after, true);
    expect(noneOrAll(before, after)).toBe('none');
  }, 300_000);

  it('the import then runs fine, and the replica converges to the master: same head, same users', async () => {
    const before = await storeFacts(dataDirOf(master), { running: true });
    await master.cliOk('import', 'users-csv', csv, '--commit');
    const facts = await storeFacts(dataDirOf(master), { running: true });
    await expectConsistent(master, before, facts, true);
    expect(noneOrAll(before, facts)).toBe('all');
    await replica.waitForApplied(facts.head.seq, 240_000);
    const copy = await storeFacts(dataDirOf(replica), { running: true });
    expect(copy.integrity).toEqual({ database: ['ok'], state: ['ok'] });
    expect({ head: copy.head, users: copy.users, tokens: copy.tokens, digest: copy.digest }).toEqual({ head: facts.head, users: facts.users, tokens: facts.tokens, digest: facts.digest });
    const status = JSON.parse(await replica.cliOk('cluster', 'status', '--json')) as { applied_seq: number };
    expect(status.applied_seq).toBe(facts.head.seq);
  }, 400_000);

  it('the replica killed while it applies the feed batches of a 100,000-user import, then the master while it feeds the replica: both restart, and the replica converges with no half-applied batch', async () => {
    const replicaBefore = await storeFacts(dataDirOf(replica), { running: true });
    const masterBefore = await storeFacts(dataDirOf(master), { running: true });
    await master.cliOk('import', 'users-csv', join(master.dir, 'second.csv'), '--commit');
    const target = await storeFacts(dataDirOf(master), { running: true });
    expect(noneOrAll(masterBefore, target)).toBe('all');

    // the replica fetches and applies the 200,000 entries in batches; kill it after a few dozen
    const applied = () => replica.logs().filter((l) => l.event === 'replication-applied' && Number(l.from) > replicaBefore.head.seq).length;
    await eventually('the replica applying batches', async () => applied() >= 30, 240_000, 5);
    await replica.kill();
    const halfway = await storeFacts(dataDirOf(replica), { running: false });
    await expectConsistent(replica, replicaBefore, halfway, false);
    expect(halfway.head.seq, 'the replica was killed before it caught up').toBeLessThan(target.head.seq);
    console.log(`replica killed at entry ${halfway.head.seq} of ${target.head.seq}: ${halfway.users - replicaBefore.users} of ${ROWS} users applied, each batch whole`);

    // it goes on from there; the master is killed while it serves the next batches
    await replica.start(60_000);
    const from = halfway.head.seq;
    await eventually('the replica applying again', async () => replica.logs().filter((l) => l.event === 'replication-applied' && Number(l.from) > from).length >= 10, 240_000, 5);
    await master.kill();
    const masterAfter = await storeFacts(dataDirOf(master), { running: false });
    expect(masterAfter.integrity).toEqual({ database: ['ok'], state: ['ok'] });
    expect(masterAfter.head).toEqual(target.head);
    expect(masterAfter.digest).toBe(target.digest);
    await master.start(60_000);

    await replica.waitForApplied(target.head.seq, 240_000);
    const copy = await storeFacts(dataDirOf(replica), { running: true });
    await expectConsistent(replica, replicaBefore, copy, true);
    expect({ head: copy.head, users: copy.users, tokens: copy.tokens, digest: copy.digest }).toEqual({ head: target.head, users: target.users, tokens: target.tokens, digest: target.digest });
  }, 600_000);
});
