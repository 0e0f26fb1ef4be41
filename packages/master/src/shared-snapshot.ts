/** How long a finished snapshot is kept for the next replica while the head stays put: it holds the whole body. */
export const SNAPSHOT_KEEP_MS = 60_000;

interface Entry<T> {
  head: number;
  result: Promise<T>;
  timer?: NodeJS.Timeout;
}

/**
 * One snapshot build per head. A build takes a worker and memory in proportion to the data (hundreds of MB for 100,000
 * users), so replicas re-syncing together must not start one each: a request for the head being built waits for that
 * build, and a finished one is handed out again while the head has not moved. A failed build is not kept.
 */
export class SharedSnapshot<T> {
  private current: Entry<T> | undefined;

  constructor(
    private readonly build: (head: number) => Promise<T>,
    private readonly keepMs = SNAPSHOT_KEEP_MS,
  ) {}

  /** The snapshot for `head` (the store's head now); `shared` when it came from a build already started. */
  get(head: number): { result: Promise<T>; shared: boolean } {
    if (this.current?.head === head) return { result: this.current.result, shared: true };
    this.release();
    const entry: Entry<T> = { head, result: this.build(head) };
    this.current = entry;
    entry.result.then(
      () => {
        if (this.current === entry) entry.timer = setTimeout(() => this.release(), this.keepMs).unref();
      },
      () => {
        if (this.current === entry) this.current = undefined;
      },
    );
    return { result: entry.result, shared: false };
  }

  /** Let go of the kept snapshot (requests already waiting for it still get it). */
  release(): void {
    clearTimeout(this.current?.timer);
    this.current = undefined;
  }
}
