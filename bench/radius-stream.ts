/**
 * A steady stream of Access-Requests to several nodes, with per-node figures (lost, wrong, latency, longest silence):
 * used by bench/bulk-import.ts and test/bulk-import.test.ts.
 */
import dgram from 'node:dgram';
import { CODE } from '@otpgate/core';
import { accessRequest, answersRequest } from './radius-packets.js';
import { quantile } from './quantile.js';

/** One Access-Request the stream is to send: whom for, with what, and the answer it must get. */
export interface StreamItem {
  username: string;
  password: string;
  expect: 'accept' | 'reject';
}

/** A request as sent and (perhaps) answered, times from performance.now(). */
interface Sent {
  node: string;
  item: StreamItem;
  authenticator: Buffer;
  sentAt: number;
  answeredAt?: number;
  code?: number;
}

/** What one node did with its share of the stream. */
export interface NodeFigures {
  node: string;
  sent: number;
  answered: number;
  /** Sent and never answered. */
  lost: number;
  /** Answered with another code than expected (the requests, for the message). */
  wrong: Array<{ username: string; expected: string; got: number }>;
  accepts: number;
  rejects: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The longest time between two answers of this node (its longest silence under a steady stream). */
  maxGapMs: number;
}

interface Target {
  name: string;
  port: number;
  sockets: Array<{ socket: dgram.Socket; pending: Map<number, Sent>; nextId: number }>;
  turn: number;
}


/**
 * A steady stream of Access-Requests to several nodes, the load many NASes make: `rate` requests a second in total,
 * taken in turn from the nodes, each node's share sent from `socketsPerNode` source ports (so the kernel spreads it
 * over the node's RADIUS threads). No retransmissions: every request must be answered, once. Each answer is matched
 * to its request by port and identifier and checked with the Response Authenticator.
 */
export class RadiusStream {
  private readonly targets: Target[];
  private readonly sent: Sent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private turn = 0;
  /** Requests the schedule asked for but no free identifier was left for (never expected on loopback). */
  skipped = 0;

  private constructor(
    nodes: Array<{ name: string; port: number }>,
    private readonly secret: string,
    private readonly rate: number,
    private readonly next: (node: string) => StreamItem,
  ) {
    this.targets = nodes.map((n) => ({ ...n, sockets: [], turn: 0 }));
  }

  static async start(options: {
    nodes: Array<{ name: string; port: number }>;
    secret: string;
    rate: number;
    socketsPerNode?: number;
    /** The next request for this node. */
    next: (node: string) => StreamItem;
  }): Promise<RadiusStream> {
    const stream = new RadiusStream(options.nodes, options.secret, options.rate, options.next);
    for (const target of stream.targets) {
      for (let i = 0; i < (options.socketsPerNode ?? 8); i++) {
        const socket = dgram.createSocket('udp4');
        const entry = { socket, pending: new Map<number, Sent>(), nextId: 0 };
        socket.on('message', (m) => stream.onAnswer(entry.pending, m));
        await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
        target.sockets.push(entry);
      }
    }
    stream.startedAt = performance.now();
    // a fixed schedule: a late tick sends what it owes, so a slow moment of this process does not lower the rate
    stream.timer = setInterval(() => stream.tick(), 5);
    return stream;
  }

  private tick(): void {
    const due = Math.floor(((performance.now() - this.startedAt) * this.rate) / 1000);
    while (this.sent.length + this.skipped < due) {
      const target = this.targets[this.turn++ % this.targets.length]!;
      this.send(target, this.next(target.name));
    }
  }

  private send(target: Target, item: StreamItem): void {
    const slot = target.sockets[target.turn++ % target.sockets.length]!;
    let id = -1;
    for (let i = 0; i < 256; i++) {
      const candidate = (slot.nextId + i) % 256;
      if (!slot.pending.has(candidate)) {
        id = candidate;
        break;
      }
    }
    if (id < 0) {
      this.skipped++;
      return;
    }
    slot.nextId = (id + 1) % 256;
    const packet = accessRequest({ id, username: item.username, password: item.password, secret: this.secret });
    const sent: Sent = { node: target.name, item, authenticator: packet.subarray(4, 20), sentAt: performance.now() };
    slot.pending.set(id, sent);
    this.sent.push(sent);
    slot.socket.send(packet, target.port, '127.0.0.1');
  }

  private onAnswer(pending: Map<number, Sent>, answer: Buffer): void {
    const at = performance.now();
    const sent = answer.length >= 20 ? pending.get(answer[1]!) : undefined;
    if (!sent || !answersRequest(answer, sent.authenticator, this.secret)) return;
    pending.delete(answer[1]!);
    sent.answeredAt = at;
    sent.code = answer[0];
  }

  private halt(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Requests sent so far. */
  get count(): number {
    return this.sent.length;
  }

  /** Stop sending; wait up to `graceMs` for the answers still owed; close the sockets. */
  async stop(graceMs = 10_000): Promise<void> {
    this.halt();
    const deadline = performance.now() + graceMs;
    while (this.sent.some((s) => s.answeredAt === undefined) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const t of this.targets) for (const s of t.sockets) s.socket.close();
  }

  /** The figures of each node, over the requests sent from `from` to `to` (performance.now() times, default all). */
  figures(from = 0, to = Infinity): NodeFigures[] {
    return this.targets.map(({ name }) => {
      const mine = this.sent.filter((s) => s.node === name && s.sentAt >= from && s.sentAt < to);
      const answered = mine.filter((s) => s.answeredAt !== undefined);
      const latencies = answered.map((s) => s.answeredAt! - s.sentAt).sort((a, b) => a - b);
      const times = answered.map((s) => s.answeredAt!).sort((a, b) => a - b);
      let maxGapMs = 0;
      for (let i = 1; i < times.length; i++) maxGapMs = Math.max(maxGapMs, times[i]! - times[i - 1]!);
      const codeOf = (e: StreamItem['expect']) => (e === 'accept' ? CODE.ACCESS_ACCEPT : CODE.ACCESS_REJECT);
      return {
        node: name,
        sent: mine.length,
        answered: answered.length,
        lost: mine.length - answered.length,
        wrong: answered.filter((s) => s.code !== codeOf(s.item.expect)).map((s) => ({ username: s.item.username, expected: s.item.expect, got: s.code! })),
        accepts: answered.filter((s) => s.code === CODE.ACCESS_ACCEPT).length,
        rejects: answered.filter((s) => s.code === CODE.ACCESS_REJECT).length,
        p50Ms: quantile(latencies, 0.5),
        p99Ms: quantile(latencies, 0.99),
        maxMs: latencies.at(-1) ?? NaN,
        maxGapMs,
      };
    });
  }
}

/**
 * How late this process's own timers fire (every 10 ms): the scheduling delay the machine imposes on whoever measures.
 * On a machine shared with other work, a node's latency includes as much, through no fault of its own.
 */
export class LoopDelay {
  private readonly samples: number[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor() {
    let expected = performance.now() + 10;
    this.timer = setInterval(() => {
      const now = performance.now();
      this.samples.push(Math.max(0, now - expected));
      expected = now + 10;
    }, 10);
  }

  stop(): { p99Ms: number; maxMs: number } {
    clearInterval(this.timer);
    const sorted = [...this.samples].sort((a, b) => a - b);
    return { p99Ms: quantile(sorted, 0.99), maxMs: sorted.at(-1) ?? 0 };
  }
}
