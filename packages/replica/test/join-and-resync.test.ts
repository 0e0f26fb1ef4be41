import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Store } from '@otpgate/core';
import { InvalidInputError, ValidationError } from '@otpgate/shared';
import { clearResyncRequest, readBundle, requestResync, resyncRequested, rollbackAllowed } from '@otpgate/replica';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'otpgate-unit-replica-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('readBundle (otpgate replica join BUNDLE)', () => {
  it('names the file and the problem for a missing file, a file that is not JSON, and JSON that is not a bundle', () => {
    const missing = join(dir, 'nowhere.json');
    expect(() => readBundle(missing)).toThrow(InvalidInputError);
    expect(() => readBundle(missing)).toThrow(`cannot read the replica bundle ${missing}: ENOENT`);
    const notJson = join(dir, 'garbled.json');
    writeFileSync(notJson, '{"master_url": ');
    expect(() => readBundle(notJson)).toThrow(`cannot read the replica bundle ${notJson}:`);
    const notBundle = join(dir, 'other.json');
    writeFileSync(notBundle, JSON.stringify({ hello: 'world' }));
    expect(() => readBundle(notBundle)).toThrow(ValidationError);
    expect(() => readBundle(notBundle)).toThrow(`replica bundle ${notBundle}`);
  });
});

describe('a resync request, left by "otpgate replica resync" for the serving process', () => {
  let store: Store;
  beforeEach(async () => {
    store = await Store.create(join(dir, 'node'));
  });
  afterEach(() => store.close());

  it('is refused on the master, with the reason', () => {
    expect(() => requestResync(store)).toThrow('this node is the master; "replica resync" is for a replica');
    expect(resyncRequested(store)).toBe(false);
  });

  it('is seen by the feed client, allows a rollback only when asked, and is cleared (both parts) by one applied snapshot', () => {
    store.setRole('replica');
    expect([resyncRequested(store), rollbackAllowed(store)]).toEqual([false, false]);
    requestResync(store);
    expect([resyncRequested(store), rollbackAllowed(store)]).toEqual([true, false]);
    requestResync(store, { allowRollback: true });
    expect([resyncRequested(store), rollbackAllowed(store)]).toEqual([true, true]);
    clearResyncRequest(store);
    expect([resyncRequested(store), rollbackAllowed(store)]).toEqual([false, false]);
  });
});
