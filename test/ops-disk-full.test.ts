import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, rmdirSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNode, type LogLine } from './helpers/test-node.js';
import { papRequest, radclient } from './helpers/radclient.js';
import { awaitFreshStep, totpCode, wrongCode } from './helpers/otp.js';
import { eventually } from './helpers/eventually.js';
import { httpsSend } from './helpers/https.js';
import { errorMessage, errorCode } from '@otpgate/shared';
import { Store } from '@otpgate/core';

const SECRET = 'disk-full-client-secret';
const SIZE = 16 * 1024 * 1024;

/** Mount a small tmpfs of the test's own (root only); returns its folder. */
function mountTmpfs(): string {
  const dir = mkdtempSync(join(tmpdir(), 'otpgate-disk-full-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${SIZE},mode=0700`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmdirSync(dir);
    throw new Error(`cannot mount a tmpfs on ${dir}: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`);
  }
  return dir;
}

function unmount(dir: string): void {
  spawnSync('umount', [dir]);
  rmSync(dir, { recursive: true, force: true });
}

/** Why this machine cannot run these tests (undefined when it can): mounting a tmpfs needs root. */
function cannotMount(): string | undefined {
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root';
  try {
    unmount(mountTmpfs());
    return undefined;
  } catch (err) {
    return errorMessage(err);
  }
}

/** Fill the file system holding `dir` to the last byte; returns the file to delete to free the space again. */
function fill(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  try {
    for (const size of [1 << 20, 4096, 1]) {
      const chunk = Buffer.alloc(size, 0x5a);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (err) {
        if (errorCode(err) !== 'ENOSPC') throw err;
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

/**
 * Empty the node's write-ahead logs. The node starts them over once copied (its checkpoint thread), and a log reuses
 * the room it already holds, so writes go on for a while on a full disk; emptied, the next write needs new room.
 */
async function emptyLogs(dataDir: string): Promise<void> {
  const store = await Store.open(dataDir);
  try {
    await eventually('the logs emptied', async () =>
      [store.db, store.state].every((db) => (db.sqlite.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>)[0]?.busy === 0),
    );
  } finally {
    store.close();
  }
}

interface Readyz {
  status: string;
  checks: Record<string, { ok: boolean; detail: string }>;
}

async function readyz(node: TestNode): Promise<{ code: number; body: Readyz }> {
  const res = await fetch(`${node.metricsUrl}/readyz`);
  return { code: res.status, body: (await res.json()) as Readyz };
}

const readyAgain = (node: TestNode) =>
  eventually(
    `${node.dir} to be ready again`,
    async () => {
      const got = await readyz(node);
      return got.code === 200 ? got : false;
    },
    20_000,
    200,
  );

/** Warnings and errors a node logged since `from`. */
const complaints = (node: TestNode, from: number): LogLine[] =>
  node.logs().slice(from).filter((l) => l.level === 'warn' || l.level === 'error' || l.level === 'fatal' || l.level === 'raw');

/** Log lines since `from` that carry a stack trace. */
const stackTraces = (node: TestNode, from: number): LogLine[] => node.logs().slice(from).filter((l) => /\n\s+at /.test(Object.values(l).join('\n')));

const ADMIN_PW = 'Admin-Password-disk-full-1';

const cookieOf = (headers: { 'set-cookie'?: string[] }, name: string) => (headers['set-cookie'] ?? []).find((c) => c.startsWith(`${name}=`))!.split(';')[0]!;

/** An admin UI session without a browser: signs in, then posts the "add group" form (a write). */
async function adminSession(node: TestNode): Promise<(group: string) => Promise<{ status: number; text: string }>> {
  const page = await httpsSend('GET', `${node.adminUrl}/login`);
  const field = /name="_signin" value="([^"]+)"/.exec(page.text)![1]!;
  const signIn = await httpsSend(
    'POST',
    `${node.adminUrl}/login`,
    new URLSearchParams({ _signin: field, username: 'admin', password: ADMIN_PW }).toString(),
    cookieOf(page.headers, '__Host-otpgate-signin'),
  );
  const session = cookieOf(signIn.headers, '__Host-otpgate-session');
  const groups = await httpsSend('GET', `${node.adminUrl}/groups`, '', session);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(groups.text)![1]!;
  return (group) => httpsSend('POST', `${node.adminUrl}/groups`, new URLSearchParams({ _csrf: csrf, name: group, description: '', attributes: '' }).toString(), session);
}

const problem = cannotMount();

/**
 * A master and a replica, each with its data folder on a small file system of its own, filled in turn. A node whose
 * disk is full answers no Access-Request (no Accept without its stored step; the NAS fails over), says so on /readyz,
 * in `otpgate status` and a metric, logs the cause once rather than a stack trace per request, keeps running, and
 * recovers on its own once there is space again: the code whose write had failed is accepted then.
 */
describe.skipIf(problem !== undefined)(`nodes whose data folder's file system is full${problem ? ` (skipped: ${problem})` : ''}`, () => {
  let masterFs = '';
  let replicaFs = '';
  let master: TestNode;
  let replica: TestNode;
  const secrets: Record<string, string> = {};
  const login = (node: TestNode, user: string, code = totpCode(secrets[user]!)) =>
    radclient(node.target, SECRET, papRequest(user, `${user}-password${code}`));

  // a dozen CLI runs and two node starts: a busy machine needs more than the default minute
  beforeAll(async () => {
    masterFs = mountTmpfs();
    replicaFs = mountTmpfs();
    master = await TestNode.createMaster('disk-full-master', { dataDir: join(masterFs, 'data') });
    await master.cliInput(ADMIN_PW, 'admin', 'set-password', '--password-stdin');
    await master.addClient('local', '127.0.0.1', SECRET);
    for (const user of ['alice', 'bob', 'carol', 'erin']) secrets[user] = await master.addUserWithToken(user, `${user}-password`);
    await master.start();
    replica = await TestNode.createReplica('disk-full-replica', master, undefined, { dataDir: join(replicaFs, 'data'), cluster: '  poll_seconds: 1\n' });
    await replica.start();
    await replica.waitForApplied(await master.headSeq());
  }, 120_000);
  afterAll(async () => {
    await Promise.all([replica?.stop(), master?.stop()]);
    for (const dir of [masterFs, replicaFs]) if (dir) unmount(dir);
  });

  it('answers while there is space', async () => {
    await awaitFreshStep();
    expect((await login(master, 'bob')).code).toBe('Access-Accept');
    expect((await login(replica, 'carol')).code).toBe('Access-Accept');
    for (const node of [master, replica]) {
      expect((await readyz(node)).code).toBe(200);
      expect(await node.metric('otpgate_store_writable')).toBe(1);
    }
  });

  describe("the master's disk full", () => {
    let from = 0;
    let filler = '';
    /** The code sent while the disk was full: still inside its window (this step and the next) when space is back. */
    let code = '';
    let addGroup: (group: string) => Promise<{ status: number; text: string }>;

    it('answers no Access-Request, says why on /readyz, in "otpgate status" and the metric, and logs it once', async () => {
      addGroup = await adminSession(master);
      await awaitFreshStep();
      from = await master.mark();
      await emptyLogs(join(masterFs, 'data'));
      filler = fill(masterFs);
      code = totpCode(secrets.alice!);
      expect((await login(master, 'alice', code)).code).toBe('no-reply');
      // more traffic: a wrong code (a failure counter to store), another user, the right code again
      expect((await login(master, 'alice', wrongCode(secrets.alice!))).code).toBe('no-reply');
      expect((await login(master, 'bob', wrongCode(secrets.bob!))).code).toBe('no-reply');
      expect((await login(master, 'alice', code)).code).toBe('no-reply');

      const r = await readyz(master);
      expect(r.code).toBe(503);
      expect(r.body.status).toBe('not-ready');
      expect(r.body.checks.store).toMatchObject({ ok: false });
      expect(r.body.checks.store!.detail).toMatch(/^store not writable since \S+: the disk holding the data folder is full$/);
      expect(r.body.checks.radius!.ok).toBe(true);
      expect(await master.metric('otpgate_store_writable')).toBe(0);
      expect(await master.metric('otpgate_ready')).toBe(0);
      expect(await master.metric('otpgate_radius_dropped_total', { cause: 'store-unwritable' })).toBe(4);

      const status = await master.cli('status', '--json');
      expect(status.code).toBe(1);
      expect(JSON.parse(status.stdout)).toMatchObject({ ready: false, status: 'not-ready', checks: { store: { ok: false, detail: r.body.checks.store!.detail } } });
    });

    it('keeps its admin UI and replication API answering, with the cause and without a stack trace', async () => {
      for (const group of ['during-full', 'during-full-again']) {
        const added = await addGroup(group);
        expect(added.status).toBe(503);
        expect(added.text).toContain('This node cannot write its database: the disk holding the data folder is full.');
      }
      // the replica keeps polling (and reports the step of a login it accepts): the master cannot note either
      expect((await login(replica, 'erin')).code).toBe('Access-Accept');
      await master.waitForLog((l) => master.logs().indexOf(l) >= from && l.event === 'replication-store-unwritable');
      expect((await readyz(replica)).code).toBe(200);
    });

    it('logged the cause once a minute, not a line (let alone a stack trace) per request', async () => {
      await master.mark();
      const lines = complaints(master, from);
      // each RADIUS thread says once a minute per NAS that it drops requests: one line per thread at most
      const drops = lines.filter((l) => l.event === 'radius-drop');
      expect(drops.length).toBeGreaterThanOrEqual(1);
      expect(new Set(drops.map((l) => l.worker)).size).toBe(drops.length);
      const events = lines.filter((l) => l.event !== 'radius-drop').map((l) => (typeof l.event === 'string' ? l.event : l.msg));
      expect(new Set(events).size, JSON.stringify(lines)).toBe(events.length);
      // the dashboard's roll-up of the auth log fails too, when its 10 s turn comes while the disk is full
      expect(events.filter((e) => e !== 'auth-rollup-failed').sort()).toEqual(['replication-store-unwritable', 'store-unwritable', 'web-store-unwritable']);
      expect(lines.find((l) => l.event === 'radius-drop')).toMatchObject({ cause: 'store-unwritable' });
      expect(stackTraces(master, from)).toEqual([]);
    });

    it('is ready again on its own once space is back, and accepts the code whose write had failed', async () => {
      rmSync(filler);
      const back = await readyAgain(master);
      expect(back.body.checks.store!.ok).toBe(true);
      expect(await master.metric('otpgate_store_writable')).toBe(1);
      expect(master.logs().slice(from).find((l) => l.event === 'store-writable')).toBeDefined();
      expect((await login(master, 'alice', code)).code).toBe('Access-Accept');
      expect((await addGroup('after-full')).status).toBe(303);
      expect((await master.cli('status', '--json')).code).toBe(0);
    });
  });

  describe("the replica's disk full", () => {
    let from = 0;
    let filler = '';

    it('keeps running: refuses nothing it cannot store, and keeps trying to apply the master\'s changes', async () => {
      from = await replica.mark();
      await emptyLogs(join(replicaFs, 'data'));
      filler = fill(replicaFs);
      secrets.dave = await master.addUserWithToken('dave', 'dave-password');
      await replica.waitForLog((l) => replica.logs().indexOf(l) >= from && l.event === 'replication-failure' && l.reason === 'store-unwritable', 10_000);
      expect((await login(replica, 'bob')).code).toBe('no-reply');
      const r = await readyz(replica);
      expect(r.code).toBe(503);
      expect(r.body.checks.store!.detail).toMatch(/: the disk holding the data folder is full$/);
      expect((await fetch(`${replica.metricsUrl}/healthz`)).status).toBe(200);
      const failure = replica.logs().find((l) => replica.logs().indexOf(l) >= from && l.event === 'replication-failure');
      expect(failure!.msg).toBe('replication: cannot store what the master sent: the disk holding the data folder is full; the last good state stays in service');
      expect(stackTraces(replica, from)).toEqual([]);
      expect(await replica.metric('otpgate_replication_feed_failures_total', { reason: 'store-unwritable' })).toBeGreaterThanOrEqual(1);
    });

    it('applies them once space is back, and is ready again', async () => {
      rmSync(filler);
      await replica.waitForApplied(await master.headSeq(), 20_000);
      await readyAgain(replica);
      expect((await login(replica, 'dave')).code).toBe('Access-Accept');
      expect(stackTraces(replica, from)).toEqual([]);
    });

    it('cannot start on a full disk, and says why in one line (systemd starts it again once there is room)', async () => {
      await replica.stop();
      filler = fill(replicaFs);
      const serve = await replica.cli('serve');
      expect(serve.code).toBe(1);
      expect(serve.stderr.trim()).toMatch(/^otpgate: cannot open database \S+: no room for the database's shared-memory file \(is the disk holding the data folder full\?\)$/);
      rmSync(filler);
      await replica.start();
      expect((await readyAgain(replica)).body.checks.store!.ok).toBe(true);
    });
  });
});
