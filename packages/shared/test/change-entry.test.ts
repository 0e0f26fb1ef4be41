import { describe, expect, it } from 'vitest';
import { GENESIS_HASH, canonicalJson, hashEntry, type ChangeEntry } from '@otpgate/shared';

describe('canonicalJson', () => {
  it('sorts keys at every level and keeps array order', () => {
    const a = { b: 1, a: { d: [3, { f: 1, e: 2 }], c: 'x' }, z: null };
    const b = { z: null, a: { c: 'x', d: [3, { e: 2, f: 1 }] }, b: 1 };
    expect(canonicalJson(a)).toBe('{"a":{"c":"x","d":[3,{"e":2,"f":1}]},"b":1,"z":null}');
    expect(canonicalJson(b)).toBe(canonicalJson(a));
    expect(canonicalJson([2, 1])).not.toBe(canonicalJson([1, 2]));
  });

  it('leaves out undefined members, as JSON.stringify does, and quotes keys and strings the JSON way', () => {
    expect(canonicalJson({ a: 1, b: undefined })).toBe('{"a":1}');
    expect(JSON.parse(canonicalJson({ a: 1, b: undefined }))).toEqual(JSON.parse(JSON.stringify({ a: 1, b: undefined })));
    expect(canonicalJson({ 'we"ird\n': 'é\u0000' })).toBe('{"we\\"ird\\n":"é\\u0000"}');
    expect(canonicalJson('text')).toBe('"text"');
    expect(canonicalJson(42)).toBe('42');
    expect(canonicalJson(null)).toBe('null');
  });

  it('tells apart values that only differ in type', () => {
    expect(canonicalJson({ a: 1 })).not.toBe(canonicalJson({ a: '1' }));
    expect(canonicalJson({ a: null })).not.toBe(canonicalJson({}));
    expect(canonicalJson({ a: [] })).not.toBe(canonicalJson({ a: {} }));
  });
});

describe('hashEntry', () => {
  const entry: Omit<ChangeEntry, 'hash'> = {
    seq: 7,
    at: 1_700_000_000_000,
    entity: 'user',
    op: 'upsert',
    key: '12',
    data: { id: 12, username: 'alice', groups: ['vpn', 'ops'], attributes: [{ name: 'Filter-Id', value: 'x' }] },
    prev_hash: GENESIS_HASH,
  };
  const base = hashEntry(entry);

  it('is a SHA-256 in hex, stable, and independent of key order', () => {
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(hashEntry({ ...entry })).toBe(base);
    const reordered = {
      prev_hash: entry.prev_hash, key: entry.key, op: entry.op, entity: entry.entity, at: entry.at, seq: entry.seq,
      data: { attributes: [{ value: 'x', name: 'Filter-Id' }], groups: ['vpn', 'ops'], username: 'alice', id: 12 },
    };
    expect(hashEntry(reordered)).toBe(base);
  });

  it('changes when any field changes', () => {
    const variants: Array<Omit<ChangeEntry, 'hash'>> = [
      { ...entry, seq: 8 },
      { ...entry, at: entry.at + 1 },
      { ...entry, entity: 'group' },
      { ...entry, op: 'delete' },
      { ...entry, key: '13' },
      { ...entry, data: null },
      { ...entry, data: { ...(entry.data as object), username: 'alicf' } },
      { ...entry, data: { ...(entry.data as object), groups: ['ops', 'vpn'] } },
      { ...entry, data: { ...(entry.data as object), attributes: [{ name: 'Filter-Id', value: 'y' }] } },
      { ...entry, prev_hash: '1'.repeat(64) },
    ];
    const hashes = variants.map(hashEntry);
    for (const [i, h] of hashes.entries()) expect(h, `variant ${i}`).not.toBe(base);
    expect(new Set(hashes).size).toBe(variants.length);
  });
});
