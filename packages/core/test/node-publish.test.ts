import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import BetterSqlite3 from 'better-sqlite3';
import { join } from 'node:path';
import { parseNodeConfig } from '@otpgate/shared';
import { createLogger } from '../src/logger.js';
import { OtpgateNode } from '../src/node.js';
import { CLI_ACTOR } from '../src/services/context.js';
import { readChanges } from '../src/store/change-log.js';
import { SEED_HEX, createFixture, type Fixture } from './store-fixture.js';

/** A trigger in the configuration database that refuses the change log entries of used steps, as a full disk would. */
const REFUSE_STEPS = `create trigger refuse_steps before insert on changes when new.entity = 'token_state'
  begin select raise(abort, 'database or disk is full'); end`;

describe("a master's step publisher whose writes fail", () => {
  let f: Fixture;
  let node: OtpgateNode;
  let lines: Array<{ level: string; event?: string; msg: string }>;

  beforeEach(async () => {
    f = await createFixture();
    await f.services.users.add({ username: 'alice' }, CLI_ACTOR);
    const tokenId = f.services.tokens.add('alice', { secret: SEED_HEX }, CLI_ACTOR).token.id;
    // a step used here and not yet published (what an accept leaves behind)
    f.store.state.prepare('insert into token_state (token_id, last_step, drift, updated_at, reported) values (?, 100, 0, 0, 0)').run(tokenId);
    f.store.close();
    lines = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as (typeof lines)[number]);
        done();
      },
    });
    const config = parseNodeConfig(`node:\n  data_dir: ${JSON.stringify(join(f.dir, 'data'))}\nradius:\n  listen: ["127.0.0.1:0"]\n`, 'test.yaml', f.dir);
    // RADIUS threads run built code: a stand-in speaks their protocol here (the publisher is what is tested)
    const radiusScript = new URL('./fixtures/stand-in-radius-thread.mjs', import.meta.url);
    node = await OtpgateNode.open(config, { logger: createLogger('info', 'test', sink), radiusScript });
    // replicas follow this master: used steps go into the change log
    node.store.publishSteps = true;
  });
  afterEach(async () => {
    await node.stop();
    f.close();
  });

  it('says so once a minute, not every 50 ms, and publishes once it works again', async () => {
    const other = new BetterSqlite3(join(f.dir, 'data', 'otpgate.db'));
    other.exec(REFUSE_STEPS);
    await node.start();
    const failures = () => lines.filter((l) => l.msg.startsWith('publishing used steps to the replicas failed'));
    await vi.waitFor(() => expect(failures()).not.toHaveLength(0), { timeout: 5000 });
    // twenty more turns of the 50 ms publisher, every one failing
    await new Promise((r) => setTimeout(r, 1000));
    expect(failures()).toHaveLength(1);
    expect(failures()[0]).toMatchObject({ level: 'warn', event: 'step-publish-failed' });
    expect(failures()[0]!.msg).toMatch(/^publishing used steps to the replicas failed: database or disk is full; they go out once it works/);
    other.exec('drop trigger refuse_steps');
    other.close();
    const published = await vi.waitFor(
      () => {
        const entry = readChanges(node.store.db, node.store.sealKey, 0, 1000).find((e) => e.entity === 'token_state');
        expect(entry).toBeDefined();
        return entry!;
      },
      { timeout: 5000 },
    );
    expect(published.data).toMatchObject({ last_step: 100 });
  });
});
