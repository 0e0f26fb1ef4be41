import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '@otpgate/core';
import { TestNode } from './helpers/test-node.js';
import { papRequest, radclient } from './helpers/radclient.js';
import { totpCode } from './helpers/otp.js';
import { eventually } from './helpers/eventually.js';

const SECRET = 'testing123';
/** Enough that copying it inside a commit on a serving thread was seconds of silence. */
const BULK_BYTES = 40 * 1024 * 1024;

/**
 * After a bulk change by another process (the CLI's import), the write-ahead log holds it until it is copied into the
 * database file. A commit on a serving thread used to do that copying itself, answering nothing meanwhile; the node's
 * checkpoint thread does it now, in the background.
 */
describe('write-ahead log checkpoints in the background', () => {
  let node: TestNode;
  let secret: string;
  const database = () => join(node.dir, 'data', 'otpgate.db');

  beforeAll(async () => {
    node = await TestNode.create('wal-checkpoints');
    await node.addClient('local', '127.0.0.1', SECRET);
    secret = await node.addUserWithToken('alice', 'alice-password');
    await node.start();
  });
  afterAll(async () => {
    await node?.stop();
  });

  it('copies another process\'s bulk change into the database file without a commit of its own', async () => {
    const dataDir = join(node.dir, 'data');
    // as the CLI would: its own connections; a reader's snapshot held through the commit keeps the committing
    // connection from checkpointing it, as a RADIUS thread's read does during an import
    const writer = await Store.open(dataDir);
    const reader = await Store.open(dataDir);
    try {
      writer.db.sqlite.exec('create table if not exists wal_test_scratch (v blob)');
      reader.db.sqlite.exec('begin');
      reader.db.sqlite.prepare('select count(*) from users').get();
      const before = statSync(database()).size;
      const insert = writer.db.sqlite.prepare('insert into wal_test_scratch (v) values (?)');
      const row = Buffer.alloc(64 * 1024, 1);
      writer.db.transaction(() => {
        for (let written = 0; written < BULK_BYTES; written += row.length) insert.run(row);
      });
      reader.db.sqlite.exec('commit');
      expect(statSync(database()).size - before).toBeLessThan(BULK_BYTES / 2);
      // the node commits nothing to otpgate.db here (no admin change, no replica): only its checkpoint thread copies
      await eventually('the bulk change in the database file', async () => statSync(database()).size - before >= BULK_BYTES, 20_000);
      writer.db.sqlite.exec('drop table wal_test_scratch');
    } finally {
      reader.close();
      writer.close();
    }
    // and the node answers as before
    expect((await radclient(node.target, SECRET, papRequest('alice', `alice-password${totpCode(secret)}`))).code).toBe('Access-Accept');
  });
});
