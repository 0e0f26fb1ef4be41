import { statSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Database } from '../src/store/database.js';
import { checkpointWal } from '../src/store/wal-checkpoint.js';
import { stateMigrationProvider } from '../src/store/state-migrations.js';
import type { StateDB } from '../src/store/state-schema.js';
import { createFixture, type Fixture } from './store-fixture.js';

let f: Fixture;
beforeEach(async () => {
  f = await createFixture();
});
afterEach(() => f.close());

describe('state database checkpoints', () => {
  it('keep the WAL bounded while a reader overlaps every commit (RADIUS threads under load)', async () => {
    const path = join(f.dir, 'data', 'state.db');
    // a RADIUS thread's connection (commits never checkpoint) and another thread's turn reads
    const writer = await Database.open<StateDB>(path, { migrations: stateMigrationProvider, autoCheckpoint: false });
    const reader = new BetterSqlite3(path, { readonly: true });
    try {
      const read = reader.prepare('select count(*) from auth_log');
      const insert = writer.prepare(
        "insert into auth_log (at, node, username, client, source, result, latency_us, detail) values (?, 'n', ?, 'nas', 's', 'accept', 1, ?)",
      );
      const detail = 'x'.repeat(3000);
      const walBytes = () => statSync(`${path}-wal`).size;
      let largest = 0;
      for (let i = 0; i < 300; i++) {
        reader.exec('begin');
        read.get();
        writer.transaction(() => {
          for (let r = 0; r < 20; r++) insert.run(i, `user${(i * 20 + r) % 997}`, detail);
        });
        reader.exec('commit');
        // the checkpoint thread's timer, between two turns of the readers
        if (i % 10 === 9) checkpointWal(f.store.state.sqlite);
        largest = Math.max(largest, walBytes());
      }
      // 300 commits of ~20 pages: 24 MB of WAL if it is never started over; here at most ~1000 pages + 10 commits'
      expect(largest).toBeLessThan(8 * 1024 * 1024);
      expect(checkpointWal(f.store.state.sqlite).frames).toBeLessThan(1000);
    } finally {
      reader.close();
      writer.close();
    }
  });
});
