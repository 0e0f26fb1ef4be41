import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { CODE } from '@otpgate/core';
import { errorMessage } from '@otpgate/shared';
import { encodePacket, encodePayload, fuzzCase, type EncodeContext, type FuzzCase, type FuzzDatagram, type Source } from './fuzz-datagrams.js';
import { answerProblem, checkAction, Checker, signedFor, type CheckAction, type CheckCounts, type CheckEndpoints, type Via, type WrongAnswer } from './fuzz-checks.js';
import { Endpoint } from './fuzz-endpoint.js';
import type { FuzzFixture } from './fuzz-fixture.js';

/**
 * One fuzzing run against a running otpgate node (bench/fuzz.ts runs a million datagrams, test/radius-fuzz.test.ts
 * fifty thousand): a fast-check property over batches of fuzzed datagrams, sent at a steady rate from several ports
 * of three loopback addresses, with a few valid requests in each batch. It holds when, after the batch, the node
 * process is still there, every valid request answered so far got the right answer, and every answer to a fuzzed
 * datagram is signed for a datagram the server was allowed to answer. The node's RSS is sampled throughout; at the end it must still
 * answer Status-Server.
 */
export interface FuzzTarget {
  port: number;
  pid: number;
  fixture: FuzzFixture;
  /** Datagrams per second, every socket together. */
  rate: number;
  /** Where the last datagrams sent and fast-check's counterexample go when the property fails. */
  dumpDir?: string;
}

export interface FuzzOptions {
  datagrams: number;
  seed?: number;
  /** Fuzzed datagrams per property run. */
  batch?: number;
}

export interface BadAnswer {
  problem: string;
  answer: string;
  request: string | undefined;
}

export interface RssFigures {
  startKiB: number;
  peakKiB: number;
  endKiB: number;
  /** Least-squares slope of RSS against datagrams sent, after the first fifth of the run (warm-up). */
  slopeKiBPer100k: number;
  /** The same over the second half: growth that goes on, rather than the heap and caches settling. */
  lastHalfSlopeKiBPer100k: number;
  /** One a second. */
  samples: Array<{ datagrams: number; kib: number }>;
}

export interface FuzzReport {
  datagrams: number;
  seconds: number;
  seed: number;
  sourcePorts: number;
  checks: CheckCounts;
  wrongAnswers: WrongAnswer[];
  fuzzAnswers: number;
  mustDropSent: number;
  badAnswers: BadAnswer[];
  /** How the node process went away, if it did. */
  crashed: string | undefined;
  /** What was wrong with the Status-Servers sent at the end (undefined: both clients got a right Access-Accept). */
  statusServer: string | undefined;
  rss: RssFigures;
  /** CPU time over the run, of the node and of the fuzzer (the two share the machine). */
  cpuSeconds: { node: number; fuzzer: number };
  /** fast-check's verdict when the property failed: the first problem, the seed and the path to replay it. */
  failure: string | undefined;
}

interface FuzzSocket {
  endpoint: Endpoint;
  source: Source;
  secret: Buffer;
  /** What was sent lately, by identifier, to find which datagram an answer is for. */
  recent: Map<number, Array<{ bytes: Buffer; mustDrop: string | undefined; at: number }>>;
  last: FuzzDatagram | undefined;
}

const SOCKETS_PER_CLIENT = 4;
/** Answers come within milliseconds, or a few seconds behind an argon2 queue; older datagrams are forgotten. */
const RECENT_MS = 10_000;
const LAST_DATAGRAMS = 500;
const USED_STATES = 64;
const MAX_PENDING_CHECKS = 16;

/** The secret of the client a source is (the unknown address signs with the first client's). */
function clientSecret(fixture: FuzzFixture, source: Source): Buffer {
  return Buffer.from(source === 'ma-optional' ? fixture.maOptional.secret : fixture.maRequired.secret);
}

/** CPU time of a process (user + system) in seconds, undefined once it is gone. */
function processCpu(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime, fields 14 and 15 of proc(5), in clock ticks (100 a second on Linux)
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** The node's process: its resident set in KiB, or undefined once it has exited (gone, or a zombie). */
function processRss(pid: number): number | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  if (/^State:\s+Z/m.test(status)) return undefined;
  return Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
}

export class FuzzSession {
  private mustDropSent = 0;
  private fuzzAnswers = 0;
  private readonly badAnswers: BadAnswer[] = [];
  private readonly lastDatagrams: string[] = [];
  private readonly usedStates: Buffer[] = [];
  private readonly rssSamples: Array<{ datagrams: number; kib: number }> = [];
  private crashed: string | undefined;
  private readonly started = performance.now();
  private readonly fuzzerCpuAtStart = process.cpuUsage();
  /** The node's CPU time when the run started, and when last seen. */
  private readonly nodeCpu: { start: number; last: number };
  private readonly sampler: NodeJS.Timeout;
  private readonly context: EncodeContext;
  private readonly checker: Checker;

  private constructor(
    private readonly target: FuzzTarget,
    /** Every datagram sent, by any socket. */
    private readonly tally: { sent: number },
    private readonly sockets: Record<Source, FuzzSocket[]>,
    private readonly checkEndpoints: CheckEndpoints,
  ) {
    const { fixture } = target;
    this.context = { secretOf: (source) => clientSecret(fixture, source), usedStates: this.usedStates };
    this.checker = new Checker(fixture, checkEndpoints, target.port, this.context, (state) => {
      this.usedStates.push(state);
      if (this.usedStates.length > USED_STATES) this.usedStates.shift();
    });
    for (const socket of Object.values(sockets).flat()) socket.endpoint.onOther = (answer) => this.judge(socket, answer);
    const cpu = processCpu(target.pid) ?? 0;
    this.nodeCpu = { start: cpu, last: cpu };
    this.sample();
    this.sampler = setInterval(() => this.sample(), 1000);
  }

  private get sent(): number {
    return this.tally.sent;
  }

  static async open(target: FuzzTarget): Promise<FuzzSession> {
    const { fixture } = target;
    const tally = { sent: 0 };
    const count = () => void tally.sent++;
    const addresses: Record<Source, string> = {
      'ma-required': fixture.maRequired.address,
      'ma-optional': fixture.maOptional.address,
      unknown: fixture.unknownAddress,
    };
    const sockets: Record<Source, FuzzSocket[]> = { 'ma-required': [], 'ma-optional': [], unknown: [] };
    for (const source of ['ma-required', 'ma-optional', 'unknown'] as const) {
      for (let i = 0; i < (source === 'unknown' ? 1 : SOCKETS_PER_CLIENT); i++) {
        const endpoint = await Endpoint.open(addresses[source], count);
        sockets[source].push({ endpoint, source, secret: clientSecret(fixture, source), recent: new Map(), last: undefined });
      }
    }
    const endpoints = async (): Promise<Record<Via, Endpoint>> => ({
      'ma-required': await Endpoint.open(addresses['ma-required'], count),
      'ma-optional': await Endpoint.open(addresses['ma-optional'], count),
    });
    return new FuzzSession(target, tally, sockets, { request: await endpoints(), replay: await endpoints() });
  }

  /** The property fast-check runs: one batch of fuzzed datagrams, with valid requests among them. */
  property(batch: number): fc.IAsyncProperty<[{ cases: FuzzCase[]; checks: CheckAction[] }]> {
    const batchArbitrary = fc.record({
      cases: fc.array(fuzzCase, { minLength: batch, maxLength: batch }),
      checks: fc.array(checkAction, { maxLength: 2 }),
    });
    return fc.asyncProperty(batchArbitrary, async ({ cases, checks }) => {
      const problem = await this.runBatch(cases, checks);
      if (problem) throw new Error(problem);
    });
  }

  private async runBatch(cases: readonly FuzzCase[], checks: readonly CheckAction[]): Promise<string | undefined> {
    const wrongBefore = this.checker.wrong.length;
    const badBefore = this.badAnswers.length;
    // valid requests wait for their answers (argon2, a challenge round trip) while the fuzzing goes on, up to a point
    await this.checker.below(MAX_PENDING_CHECKS);
    this.checker.enqueue(checks);
    for (const c of cases) {
      const wait = this.started + (this.sent / this.target.rate) * 1000 - performance.now();
      if (wait > 1) await sleep(wait);
      this.send(c);
    }
    if (processRss(this.target.pid) === undefined) {
      this.crashed = `process ${this.target.pid} exited`;
      this.dumpLastDatagrams();
      return `the node (process ${this.target.pid}) exited after ${this.sent} datagrams`;
    }
    if (this.checker.errors.length > 0) return `the fuzzer's own checker failed: ${this.checker.errors[0]!}`;
    const wrong = this.checker.wrong[wrongBefore];
    if (wrong) {
      this.dumpLastDatagrams();
      return `wrong answer to a valid request (${wrong.what}): expected ${wrong.expected}, got ${wrong.got}; request ${wrong.request}, answer ${wrong.answer ?? 'none'}`;
    }
    const bad = this.badAnswers[badBefore];
    if (bad) {
      this.dumpLastDatagrams();
      return `bad answer to a fuzzed datagram: ${bad.problem}; answer ${bad.answer}, request ${bad.request ?? 'unknown'}`;
    }
    return undefined;
  }

  private send(c: FuzzCase): void {
    const sockets = this.sockets[c.source];
    const socket = sockets[c.socket % sockets.length]!;
    const datagram = c.payload.kind === 'repeat' ? socket.last : encodePayload(c.payload, c.source, this.context);
    if (!datagram) return;
    socket.last = datagram;
    if (datagram.mustDrop) this.mustDropSent++;
    if (datagram.bytes.length >= 20) {
      const now = performance.now();
      const list = socket.recent.get(datagram.bytes[1]!) ?? [];
      while (list.length > 0 && list[0]!.at < now - RECENT_MS) list.shift();
      list.push({ bytes: datagram.bytes, mustDrop: datagram.mustDrop, at: now });
      socket.recent.set(datagram.bytes[1]!, list);
    }
    this.lastDatagrams.push(`${c.source} :${socket.endpoint.port} ${datagram.mustDrop ? `must drop (${datagram.mustDrop})` : 'may answer'} ${datagram.bytes.toString('hex')}`);
    if (this.lastDatagrams.length > LAST_DATAGRAMS) this.lastDatagrams.shift();
    socket.endpoint.send(datagram.bytes, this.target.port);
  }

  /** An answer on a fuzzing socket: it must be signed for a datagram sent from there that the server may answer. */
  private judge(socket: FuzzSocket, answer: Buffer): void {
    this.fuzzAnswers++;
    const bad = (problem: string, request?: Buffer) =>
      this.badAnswers.push({ problem, answer: answer.toString('hex'), request: request?.toString('hex') });
    if (socket.source === 'unknown') return void bad('an answer to a datagram from an address that is no client');
    const sent = answer.length >= 20 ? (socket.recent.get(answer[1]!) ?? []) : [];
    const candidates = sent.filter((s) => signedFor(answer, s.bytes, socket.secret));
    if (candidates.length === 0) return void bad(`signed for no datagram sent from port ${socket.endpoint.port} in the last ${RECENT_MS / 1000} s`);
    const allowed = candidates.find((s) => !s.mustDrop);
    if (!allowed) return void bad(`an answer to a datagram the server must drop: ${candidates[0]!.mustDrop!}`, candidates[0]!.bytes);
    const problem = answerProblem(answer, allowed.bytes, socket.secret);
    if (problem) bad(problem, allowed.bytes);
  }

  private sample(): void {
    const kib = processRss(this.target.pid);
    if (kib !== undefined) this.rssSamples.push({ datagrams: this.sent, kib });
    this.nodeCpu.last = processCpu(this.target.pid) ?? this.nodeCpu.last;
  }

  private dumpLastDatagrams(): void {
    if (this.target.dumpDir) writeFileSync(join(this.target.dumpDir, 'fuzz-last-datagrams.txt'), `${this.lastDatagrams.join('\n')}\n`);
  }

  /** A Status-Server from a client, which must get a right Access-Accept; the problem if not. */
  private async statusServer(via: Via): Promise<string | undefined> {
    const endpoint = this.checkEndpoints.request[via];
    const secret = this.context.secretOf(via);
    const plan = {
      code: CODE.STATUS_SERVER,
      identifier: endpoint.identifier(),
      authenticator: createHash('md5').update(`status-server ${via} ${this.sent}`).digest(),
      attributes: [],
      messageAuthenticator: { kind: 'signed', position: 0 } as const,
      wrongSecret: false,
      trailer: undefined,
    };
    const request = encodePacket(plan, secret, this.context).bytes;
    const answer = await endpoint.exchange(request, this.target.port, (a) => signedFor(a, request, secret));
    if (!answer) return `no answer to Status-Server from ${endpoint.address}`;
    if (answer[0] !== CODE.ACCESS_ACCEPT) return `Status-Server from ${endpoint.address} answered with code ${answer[0]}`;
    return answerProblem(answer, request, secret);
  }

  /** Let the last answers arrive, ask Status-Server, and sum up. */
  async finish<T>(details: fc.RunDetails<T>): Promise<FuzzReport> {
    await this.checker.idle();
    await sleep(1000);
    clearInterval(this.sampler);
    this.sample();
    const fuzzerCpu = process.cpuUsage(this.fuzzerCpuAtStart);
    const cpuSeconds = { node: this.nodeCpu.last - this.nodeCpu.start, fuzzer: (fuzzerCpu.user + fuzzerCpu.system) / 1e6 };
    const statusServer = this.crashed
      ? 'not asked: the node exited'
      : [await this.statusServer('ma-required'), await this.statusServer('ma-optional')].filter(Boolean).join('; ') || undefined;
    let failure = this.checker.errors.length > 0 ? `the fuzzer's own checker failed: ${this.checker.errors[0]!}` : undefined;
    if (details.failed) {
      const error = errorMessage(details.errorInstance ?? 'interrupted');
      failure = `${error} (fast-check seed ${details.seed}, path ${details.counterexamplePath ?? '-'})`;
      if (this.target.dumpDir) writeFileSync(join(this.target.dumpDir, 'fuzz-counterexample.txt'), `${fc.stringify(details.counterexample)}\n`);
    }
    return {
      datagrams: this.sent,
      seconds: (performance.now() - this.started) / 1000,
      seed: details.seed,
      sourcePorts: Object.values(this.sockets).flat().length + 4,
      checks: this.checker.counts,
      wrongAnswers: this.checker.wrong,
      fuzzAnswers: this.fuzzAnswers,
      mustDropSent: this.mustDropSent,
      badAnswers: this.badAnswers,
      crashed: this.crashed,
      statusServer,
      rss: rssFigures(this.rssSamples),
      cpuSeconds,
      failure,
    };
  }

  close(): void {
    clearInterval(this.sampler);
    for (const s of Object.values(this.sockets).flat()) s.endpoint.close();
    for (const e of [...Object.values(this.checkEndpoints.request), ...Object.values(this.checkEndpoints.replay)]) e.close();
  }
}

/** Least-squares slope of RSS against datagrams sent, in KiB per 100,000 datagrams. */
function slope(points: ReadonlyArray<{ datagrams: number; kib: number }>): number {
  const mx = points.reduce((sum, p) => sum + p.datagrams, 0) / Math.max(1, points.length);
  const my = points.reduce((sum, p) => sum + p.kib, 0) / Math.max(1, points.length);
  const sxy = points.reduce((sum, p) => sum + (p.datagrams - mx) * (p.kib - my), 0);
  const sxx = points.reduce((sum, p) => sum + (p.datagrams - mx) ** 2, 0);
  return sxx > 0 ? (sxy / sxx) * 100_000 : 0;
}

function rssFigures(samples: ReadonlyArray<{ datagrams: number; kib: number }>): RssFigures {
  const kib = samples.map((s) => s.kib);
  const end = samples.at(-1)?.datagrams ?? 0;
  return {
    startKiB: kib[0] ?? 0,
    peakKiB: Math.max(0, ...kib),
    endKiB: kib.at(-1) ?? 0,
    slopeKiBPer100k: slope(samples.filter((s) => s.datagrams >= end / 5)),
    lastHalfSlopeKiBPer100k: slope(samples.filter((s) => s.datagrams >= end / 2)),
    samples: [...samples],
  };
}

/** Run `datagrams` fuzzed datagrams (rounded up to whole batches) against the node. */
export async function runFuzz(target: FuzzTarget, options: FuzzOptions): Promise<FuzzReport> {
  const batch = options.batch ?? 100;
  const session = await FuzzSession.open(target);
  try {
    const details = await fc.check(session.property(batch), {
      numRuns: Math.ceil(options.datagrams / batch),
      seed: options.seed,
      // the node's state moves on with every datagram: a shrunk batch would meet another server, so no shrinking
      endOnFailure: true,
    });
    return await session.finish(details);
  } finally {
    session.close();
  }
}

const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
const n = (x: number) => x.toLocaleString('en-US');

/** The figures, one per line. */
export function formatReport(r: FuzzReport): string {
  const perHundredK = (kib: number) => `${kib >= 0 ? '+' : ''}${(kib / 1024).toFixed(2)} MiB`;
  return [
    `datagrams sent: ${n(r.datagrams)} in ${r.seconds.toFixed(0)} s (${n(Math.round(r.datagrams / r.seconds))}/s) from ${r.sourcePorts} source ports, fast-check seed ${r.seed}`,
    `CPU: node ${r.cpuSeconds.node.toFixed(0)} s (${((r.cpuSeconds.node / r.seconds) * 100).toFixed(0)} % of a core), fuzzer ${r.cpuSeconds.fuzzer.toFixed(0)} s (${((r.cpuSeconds.fuzzer / r.seconds) * 100).toFixed(0)} %)`,
    `node crashes: ${r.crashed ? `1 (${r.crashed})` : 0}; Status-Server at the end: ${r.statusServer ?? 'answered (Access-Accept, authenticators right) for both clients'}`,
    `valid requests: ${n(r.checks.requests)} (answers: ${n(r.checks.accept)} Access-Accept, ${n(r.checks.reject)} Access-Reject, ${n(r.checks.challenge)} Access-Challenge); wrong answers: ${r.wrongAnswers.length}`,
    `fuzzed datagrams the server must drop: ${n(r.mustDropSent)}; answers to fuzzed datagrams: ${n(r.fuzzAnswers)}, of which wrong (unsigned, malformed, or to a datagram to drop): ${r.badAnswers.length}`,
    `node RSS: start ${mib(r.rss.startKiB)}, peak ${mib(r.rss.peakKiB)}, end ${mib(r.rss.endKiB)}; slope after the first fifth ` +
      (r.rss.samples.length < 10
        ? `not computed (${r.rss.samples.length} samples, one a second)`
        : `${perHundredK(r.rss.slopeKiBPer100k)}, over the second half ${perHundredK(r.rss.lastHalfSlopeKiBPer100k)} per 100k datagrams (${r.rss.samples.length} samples)`),
    ...(r.failure ? [`FAILED: ${r.failure}`] : []),
  ].join('\n');
}
