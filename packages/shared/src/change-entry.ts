/**
 * One entry of the change log: every change to users, tokens, groups, clients and settings on the master, in
 * commit order. Replicas receive exactly these entries; each carries the hash of the one before, so a gap, a
 * reordering or an edited entry breaks the chain and is noticed.
 */
import { createHash } from 'node:crypto';

export const ENTITIES = [
  'user',
  'token',
  'token_state',
  'group',
  'client',
  'hardware_token',
  'settings',
  'lockout',
  'admin',
] as const;
export type Entity = (typeof ENTITIES)[number];
export type ChangeOp = 'upsert' | 'delete';

export interface ChangeEntry {
  seq: number;
  /** Commit time on the master, ms since the epoch. */
  at: number;
  entity: Entity;
  op: ChangeOp;
  /** The entity's key (its id, or a name for singletons). */
  key: string;
  /** The whole record after the change, secrets in clear; null for deletes. */
  data: unknown;
  prev_hash: string;
  hash: string;
}

/** The hash before the first entry. */
export const GENESIS_HASH = '0'.repeat(64);

/** JSON with object keys sorted at every level, so both ends hash the same bytes. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value as Record<string, unknown>)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

export function hashEntry(entry: Omit<ChangeEntry, 'hash'>): string {
  const { prev_hash, ...body } = entry;
  return createHash('sha256').update(prev_hash).update('\n').update(canonicalJson(body)).digest('hex');
}
