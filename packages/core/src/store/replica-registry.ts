import type { Selectable } from 'kysely';
import type { ReplicasTable } from './schema.js';
import type { Store } from './store.js';

/** A row of the master's replica registry. */
export type ReplicaEntry = Selectable<ReplicasTable>;

/** The master's list of enrolled replicas: who may pull the feed, and how far each has got. Not replicated. */
export class ReplicaRegistry {
  constructor(private readonly store: Store) {}

  private get db() {
    return this.store.db;
  }

  list(): ReplicaEntry[] {
    return this.db.all(this.db.q.selectFrom('replicas').selectAll().orderBy('name'));
  }

  find(name: string): ReplicaEntry | undefined {
    return this.db.first(this.db.q.selectFrom('replicas').selectAll().where('name', '=', name));
  }

  byFingerprint(fingerprint: string): ReplicaEntry | undefined {
    return this.db.first(this.db.q.selectFrom('replicas').selectAll().where('fingerprint', '=', fingerprint));
  }

  /** Enrol (or re-enrol after a revocation) with a new certificate. */
  enrol(name: string, fingerprint: string, expiresAt: number): void {
    const row = { name, fingerprint, created_at: Date.now(), expires_at: expiresAt, revoked_at: null, last_seen_at: null, last_address: null, acked_seq: 0 };
    this.db.run(this.db.q.insertInto('replicas').values(row).onConflict((oc) => oc.column('name').doUpdateSet(row)));
  }

  revoke(name: string): void {
    this.db.run(this.db.q.updateTable('replicas').set({ revoked_at: Date.now() }).where('name', '=', name));
  }

  /** Noted when the lock is free: while an import holds it, the next contact notes it (the feed must not wait). */
  recordContact(name: string, address: string, ackedSeq: number | undefined): void {
    const update = this.db.q
      .updateTable('replicas')
      .set(ackedSeq === undefined ? { last_seen_at: Date.now(), last_address: address } : { last_seen_at: Date.now(), last_address: address, acked_seq: ackedSeq })
      .where('name', '=', name);
    this.db.tryWrite(() => this.db.run(update));
  }
}
