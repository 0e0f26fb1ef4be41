import dgram from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';

interface Waiter {
  accept: (answer: Buffer) => boolean;
  resolve: (answer: Buffer | undefined) => void;
  done: Promise<Buffer | undefined>;
}

/**
 * A UDP socket of the fuzzer on a loopback address (127.0.0.1, .2 and .3 are different NAS to the server). It sends
 * datagrams and hands each answer to the exchange waiting for its identifier, or else to `onOther`.
 */
export class Endpoint {
  private readonly waiting = new Map<number, Waiter>();
  private nextId = 0;
  /** Gets the answers no exchange took. */
  onOther: (answer: Buffer) => void = () => {};

  private constructor(
    private readonly socket: dgram.Socket,
    readonly address: string,
    readonly port: number,
    private readonly onSend: () => void,
  ) {
    socket.on('message', (answer) => {
      const waiter = answer.length >= 2 ? this.waiting.get(answer[1]!) : undefined;
      if (waiter?.accept(answer)) waiter.resolve(answer);
      else this.onOther(answer);
    });
  }

  /** `onSend` counts every datagram sent (retransmissions too). */
  static async open(address: string, onSend: () => void): Promise<Endpoint> {
    const socket = dgram.createSocket('udp4');
    // a send the kernel refuses (EMSGSIZE...) must not end the run: it is simply not a datagram the server saw
    socket.on('error', () => {});
    await new Promise<void>((resolve) => socket.bind(0, address, resolve));
    return new Endpoint(socket, address, socket.address().port, onSend);
  }

  send(datagram: Buffer, port: number): void {
    this.onSend();
    this.socket.send(datagram, port, '127.0.0.1');
  }

  /** An identifier no exchange of this endpoint is waiting on. */
  identifier(): number {
    for (let i = 0; i < 256; i++) {
      const id = (this.nextId + i) % 256;
      if (!this.waiting.has(id)) {
        this.nextId = (id + 1) % 256;
        return id;
      }
    }
    throw new Error('256 exchanges at once on one endpoint');
  }

  /**
   * Send `request` and wait for an answer that `accept` takes (an answer to an earlier retransmission may still come
   * in); resend after each timeout, as a NAS does. Undefined when none came. Exchanges with the same identifier on
   * one endpoint take turns.
   */
  async exchange(request: Buffer, port: number, accept: (answer: Buffer) => boolean, timeoutsMs = [1000, 2000, 4000]): Promise<Buffer | undefined> {
    const id = request[1]!;
    for (let w = this.waiting.get(id); w; w = this.waiting.get(id)) await w.done;
    let resolve!: (answer: Buffer | undefined) => void;
    const done = new Promise<Buffer | undefined>((r) => (resolve = r));
    this.waiting.set(id, { accept, resolve, done });
    try {
      for (const timeout of timeoutsMs) {
        this.send(request, port);
        const answer = await Promise.race([done, sleep(timeout, undefined, { ref: false })]);
        if (answer) return answer;
      }
      return undefined;
    } finally {
      this.waiting.delete(id);
      resolve(undefined);
    }
  }

  close(): void {
    this.socket.close();
  }
}
