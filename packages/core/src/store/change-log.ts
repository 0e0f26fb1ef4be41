/**
 * The change log: an append-only, hash-chained list of every change, written in the same transaction as the change
 * itself. Stored payloads have their secret fields sealed under this node's key; the hash is over the record in
 * clear, which is what replicas receive and check.
 */
import { GENESIS_HASH, hashEntry, seal, unseal, type ChangeEntry, type ChangeOp, type Entity } from '@otpgate/shared';
import type { Database } from './database.js';
import { ENTITY_HANDLERS, mapSecretFields } from './entity-handlers.js';

function mapSecrets(entity: Entity, data: unknown, fn: (value: string, context: string) => string): unknown {
  return mapSecretFields(data, ENTITY_HANDLERS[entity].secretFields, (v, path) => fn(v, `change:${entity}.${path}`));
}

export interface ChangeHead {
  seq: number;
  hash: string;
}

/**
 * The last entry: the newest row of the log, or the base the log starts from (a replica filled from a snapshot
 * starts at the snapshot's head, with no rows before it).
 */
export function changeHead(db: Database): ChangeHead {
  const row = db.first(db.q.selectFrom('changes').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1));
  return row ?? logBase(db);
}

/** The hash of entry `seq` as this node knows it (the log base counts), or undefined if it is not kept. */
export function changeHashAt(db: Database, seq: number): string | undefined {
  const row = db.first(db.q.selectFrom('changes').select('hash').where('seq', '=', seq));
  if (row) return row.hash;
  const base = logBase(db);
  return seq === base.seq ? base.hash : undefined;
}

/** Where the kept log starts: entries after this are in the changes table. */
export function logBase(db: Database): ChangeHead {
  const base = db.all(db.q.selectFrom('node_meta').select(['key', 'value']).where('key', 'in', ['log_base_seq', 'log_base_hash']));
  const get = (k: string) => base.find((b) => b.key === k)?.value;
  return { seq: Number(get('log_base_seq') ?? 0), hash: get('log_base_hash') ?? GENESIS_HASH };
}

/** Start the log afresh at `head` (after a snapshot): every older row goes. Call inside a transaction. */
export function resetLog(db: Database, head: ChangeHead): void {
  db.run(db.q.deleteFrom('changes'));
  setLogBase(db, head);
}

/** Record where the kept log starts (the entries up to it are gone). Call inside the transaction that deletes them. */
export function setLogBase(db: Database, base: ChangeHead): void {
  for (const [key, value] of [['log_base_seq', String(base.seq)], ['log_base_hash', base.hash]] as const) {
    db.run(db.q.insertInto('node_meta').values({ key, value }).onConflict((oc) => oc.column('key').doUpdateSet({ value })));
  }
}

/** Append a change made on this node (the master). Call inside the transaction that makes the change. */
export function appendChange(
  db: Database,
  sealKey: Buffer,
  change: { entity: Entity; op: ChangeOp; key: string; data: unknown },
  at = Date.now(),
): ChangeEntry {
  const head = changeHead(db);
  const body = { seq: head.seq + 1, at, ...change, prev_hash: head.hash };
  const entry: ChangeEntry = { ...body, hash: hashEntry(body) };
  insertEntry(db, sealKey, entry);
  return entry;
}

/** Store an entry exactly as received from the master (a replica's log mirrors the master's). */
export function insertEntry(db: Database, sealKey: Buffer, entry: ChangeEntry): void {
  const payload =
    entry.data === null ? null : JSON.stringify(mapSecrets(entry.entity, entry.data, (v, ctx) => seal(sealKey, v, ctx)));
  db.run(
    db.q.insertInto('changes').values({
      seq: entry.seq,
      at: entry.at,
      entity: entry.entity,
      op: entry.op,
      key: entry.key,
      payload,
      prev_hash: entry.prev_hash,
      hash: entry.hash,
    }),
  );
}

/** Entries after `afterSeq`, secrets in clear, oldest first. */
export function readChanges(db: Database, sealKey: Buffer, afterSeq: number, limit: number): ChangeEntry[] {
  return db
    .all(db.q.selectFrom('changes').selectAll().where('seq', '>', afterSeq).orderBy('seq').limit(limit))
    .map((row) => {
      const entity = row.entity as Entity;
      const data =
        row.payload === null
          ? null
          : mapSecrets(entity, JSON.parse(row.payload), (v, ctx) => unseal(sealKey, v, ctx).toString());
      return { seq: row.seq, at: row.at, entity, op: row.op, key: row.key, data, prev_hash: row.prev_hash, hash: row.hash };
    });
}
