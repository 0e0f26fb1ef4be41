import { mkdtempSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { ADMIN_ALLOW_DEFAULT } from '@otpgate/shared';
import { Store, createLogger } from '@otpgate/core';
import { createSelfSignedServer } from '../src/cluster-ca.js';
import { createWebApp, type Refusal } from '../src/web/app.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/**
 * Another process's long write (an import) holds the configuration database: a change made on the web waits for it
 * without stopping the thread, which keeps answering everything else (on a master: the replicas' claims).
 */
describe('a web change waits for another writer\'s lock without blocking the thread', () => {
  let dir: string;
  let store: Store;
  let importer: Store;
  let app: FastifyInstance;
  const lines: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'otpgate-unit-write-lock-'));
    store = await Store.create(join(dir, 'data'));
    // a second connection to the same file, as the CLI's import would open it
    importer = await Store.open(join(dir, 'data'));
    store.db.sqlite.exec('create table scratch (n integer)');
    const { certificate, key } = await createSelfSignedServer(['127.0.0.1'], 1);
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => done(void lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>)) });
    app = await createWebApp(
      { key, cert: certificate, minVersion: 'TLSv1.2' },
      {
        what: 'test UI',
        allow: ADMIN_ALLOW_DEFAULT,
        allowSetting: 'admin.allow',
        logger: createLogger('info', 'test', sink),
        errorPage: (refusal: Refusal) => JSON.stringify(refusal),
        writeLock: store.db,
        writeWaitMs: 1500,
      },
    );
    app.post('/write', () => store.db.transaction(() => store.db.sqlite.prepare('insert into scratch values (1)').run().changes));
    app.get('/read', () => 'read');
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    importer?.close();
    store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers other requests while a change waits, then makes the change once the lock is let go', async () => {
    importer.db.sqlite.exec('BEGIN IMMEDIATE');
    const order: string[] = [];
    const write = app.inject({ method: 'POST', url: '/write', headers: FORM, payload: 'x=1' }).then((r) => (order.push('write'), r));
    // the change reaches its handler; SQLite's own wait would hold the thread there (busy_timeout) until the write
    // gave up, and this timer and the read would come after it
    await sleep(300);
    const read = await app.inject({ method: 'GET', url: '/read' });
    order.push('read');
    expect(read.body).toBe('read');
    importer.db.sqlite.exec('COMMIT');
    const written = await write;
    expect(order).toEqual(['read', 'write']);
    expect(written.statusCode).toBe(200);
    expect(written.body).toBe('1');
  });

  it('refuses a change with 503 and the reason once the lock is held past the wait, and logs it once', async () => {
    importer.db.sqlite.exec('BEGIN IMMEDIATE');
    try {
      for (let i = 0; i < 2; i++) {
        const answer = await app.inject({ method: 'POST', url: '/write', headers: FORM, payload: 'x=1' });
        expect(answer.statusCode).toBe(503);
        expect(answer.headers['retry-after']).toBe('10');
        expect((JSON.parse(answer.body) as Refusal).message).toMatch(/another write .* has held the database .* nothing was changed; try again/);
      }
    } finally {
      importer.db.sqlite.exec('COMMIT');
    }
    expect(store.db.sqlite.prepare('select count(*) from scratch').pluck().get()).toBe(1);
    expect(lines.filter((l) => l.event === 'web-store-busy')).toHaveLength(1);
  });
});
