/** How long a finished snapshot is kept for the next replica while the head stays put. */
export const SNAPSHOT_KEEP_MS = 60_000;

interface Entry<T> {
  head: number;
  result: Promise<T>;
  /** Requests sending it now. */
  leases: number;
  /** Still handed out to new requests (until the head moves or SNAPSHOT_KEEP_MS pass). */
  kept: boolean;
  disposed: boolean;
  timer?: NodeJS.Timeout;
}

/** A request's hold on a snapshot: `release` once it is sent (or the request failed). */
export interface SnapshotLease<T> {
  result: Promise<T>;
  /** Whether it came from a build already started. */
  shared: boolean;
  release(): void;
}

/**
 * One snapshot build per head. A build takes a worker and minutes of disk I/O for a million users, so replicas
 * re-syncing together must not start one each: a request for the head being built waits for that build, and a
 * finished one is handed out again while the head has not moved. What a build made (a file) is disposed of once it is
 * no longer kept and the last request sending it is done. A failed build is not kept.
 */
export class SharedSnapshot<T> {
  private current: Entry<T> | undefined;

  constructor(
    private readonly build: (head: number) => Promise<T>,
    private readonly dispose: (value: T) => void,
    private readonly keepMs = SNAPSHOT_KEEP_MS,
  ) {}

  /** A lease on the snapshot for `head` (the store's head now). */
  get(head: number): SnapshotLease<T> {
    let entry = this.current;
    const shared = entry?.head === head;
    if (!entry || !shared) {
      this.drop();
      entry = { head, result: this.build(head), leases: 0, kept: true, disposed: false };
      this.current = entry;
      const built = entry;
      built.result.then(
        () => {
          if (built.kept) built.timer = setTimeout(() => this.drop(built), this.keepMs).unref();
          else this.disposeIfDone(built);
        },
        () => {
          if (this.current === built) this.current = undefined;
        },
      );
    }
    const leased = entry;
    leased.leases++;
    let released = false;
    return {
      result: leased.result,
      shared,
      release: () => {
        if (released) return;
        released = true;
        leased.leases--;
        this.disposeIfDone(leased);
      },
    };
  }

  /** Stop handing out the kept snapshot (requests sending it finish, then it is disposed of). */
  drop(entry = this.current): void {
    if (!entry) return;
    clearTimeout(entry.timer);
    entry.kept = false;
    if (this.current === entry) this.current = undefined;
    this.disposeIfDone(entry);
  }

  private disposeIfDone(entry: Entry<T>): void {
    if (entry.kept || entry.leases > 0 || entry.disposed) return;
    entry.disposed = true;
    // a build still running is disposed of when it ends; a failed one made nothing
    entry.result.then(this.dispose, () => undefined);
  }
}
