/**
 * A map for state keyed by what outsiders send (user names, addresses, session ids, RADIUS request keys): it holds
 * at most `maxEntries`, and an entry lives at most `maxAgeMs` after it was last written. When full, the entry
 * written longest ago goes first, so a flood of new keys costs old entries their place, never the node its memory.
 *
 * Entries are also kept in a list in the order they were written (set() and touch() move an entry to the end), so
 * the oldest entry, the first to expire and the first to go when full, is always at the front: every operation costs
 * the same however many entries there are. (A Map's own insertion order would do in theory, but finding its first
 * entry walks over the holes deleted entries leave, tens of microseconds per call under a flood.)
 */
export interface BoundedMapOptions {
  /** The map's name in metrics (otpgate_bounded_map_entries{map="..."}): a fixed string, never input. */
  name: string;
  maxEntries: number;
  maxAgeMs: number;
  /** Where the size and evictions are reported: the node's metrics (see Metrics.watchMap). */
  meter?: MapMeter;
  now?: () => number;
}

/** What a bounded map reports: its live size is read at scrape time, evictions of live entries as they happen. */
export interface MapMeter {
  watchMap(name: string, size: () => number): { evicted(): void };
}

interface Entry<K, V> {
  key: K;
  value: V;
  expiresAt: number;
  older: Entry<K, V> | undefined;
  newer: Entry<K, V> | undefined;
}

export class BoundedMap<K, V> {
  readonly name: string;
  private readonly entries = new Map<K, Entry<K, V>>();
  private oldest: Entry<K, V> | undefined;
  private newest: Entry<K, V> | undefined;
  private readonly maxEntries: number;
  private readonly maxAgeMs: number;
  private readonly now: () => number;
  private readonly evicted: () => void;

  constructor(options: BoundedMapOptions) {
    if (!(options.maxEntries >= 1) || !(options.maxAgeMs > 0)) throw new RangeError(`bounded map ${options.name}: maxEntries and maxAgeMs must be positive`);
    this.name = options.name;
    this.maxEntries = options.maxEntries;
    this.maxAgeMs = options.maxAgeMs;
    this.now = options.now ?? Date.now;
    const meter = options.meter?.watchMap(options.name, () => this.size);
    this.evicted = meter ? () => meter.evicted() : () => undefined;
  }

  /** Live entries (the expired ones at the front are dropped first). */
  get size(): number {
    this.sweep(this.now());
    return this.entries.size;
  }

  /** The value, or undefined when there is none or it has expired. */
  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.remove(entry);
      return undefined;
    }
    return entry.value;
  }

  has(key: K): boolean {
    return this.get(key) !== undefined;
  }

  /**
   * Write the entry; it becomes the newest and lives `ttlMs` from now (at most maxAgeMs, the default). A shorter
   * ttl than the map's is for stores whose lifetime is a setting (a challenge's timeout); such an entry may outlive
   * its ttl in memory behind older ones, but is never returned after it.
   */
  set(key: K, value: V, ttlMs = this.maxAgeMs): this {
    const t = this.now();
    const existing = this.entries.get(key);
    if (existing) this.remove(existing);
    this.sweep(t);
    while (this.entries.size >= this.maxEntries && this.oldest) {
      this.remove(this.oldest);
      this.evicted();
    }
    const entry: Entry<K, V> = { key, value, expiresAt: t + Math.min(ttlMs, this.maxAgeMs), older: this.newest, newer: undefined };
    if (this.newest) this.newest.newer = entry;
    else this.oldest = entry;
    this.newest = entry;
    this.entries.set(key, entry);
    return this;
  }

  /** Restart the entry's age and make it the newest (a session in use); its value, or undefined when gone. */
  touch(key: K): V | undefined {
    const value = this.get(key);
    if (value !== undefined) this.set(key, value);
    return value;
  }

  delete(key: K): boolean {
    const entry = this.entries.get(key);
    if (entry) this.remove(entry);
    return entry !== undefined;
  }

  clear(): void {
    this.entries.clear();
    this.oldest = this.newest = undefined;
  }

  /** The live entries, oldest first. */
  *[Symbol.iterator](): IterableIterator<[K, V]> {
    const t = this.now();
    for (let e = this.oldest; e; e = e.newer) if (e.expiresAt > t) yield [e.key, e.value];
  }

  /** Drop the expired entries at the front. */
  private sweep(t: number): void {
    while (this.oldest && this.oldest.expiresAt <= t) this.remove(this.oldest);
  }

  private remove(entry: Entry<K, V>): void {
    this.entries.delete(entry.key);
    if (entry.older) entry.older.newer = entry.newer;
    else this.oldest = entry.newer;
    if (entry.newer) entry.newer.older = entry.older;
    else this.newest = entry.older;
  }
}
