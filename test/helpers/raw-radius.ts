import dgram from 'node:dgram';
import { createHmac, randomBytes } from 'node:crypto';
import { ATTR, encodeUserPassword } from '@otpgate/core';

/** Build an Access-Request by hand, for what radclient cannot do (byte-identical retransmits, broken packets). */
export function accessRequest(options: {
  identifier?: number;
  username: string;
  password: string;
  secret: string;
  messageAuthenticator?: 'first' | 'none' | 'wrong';
  extra?: Buffer[];
}): Buffer {
  const secret = Buffer.from(options.secret);
  const authenticator = randomBytes(16);
  const attr = (type: number, value: Buffer) => Buffer.concat([Buffer.from([type, value.length + 2]), value]);
  const ma = options.messageAuthenticator ?? 'first';
  const attrs = Buffer.concat([
    ...(ma === 'none' ? [] : [attr(ATTR.MESSAGE_AUTHENTICATOR, Buffer.alloc(16))]),
    attr(ATTR.USER_NAME, Buffer.from(options.username)),
    attr(ATTR.USER_PASSWORD, encodeUserPassword(Buffer.from(options.password), authenticator, secret)),
    ...(options.extra ?? []),
  ]);
  const packet = Buffer.concat([Buffer.from([1, options.identifier ?? 7, 0, 0]), authenticator, attrs]);
  packet.writeUInt16BE(packet.length, 2);
  if (ma !== 'none') {
    const mac = createHmac('md5', secret).update(packet).digest();
    if (ma === 'wrong') mac[0]! ^= 0xff;
    mac.copy(packet, 22);
  }
  return packet;
}

/** A UDP socket on loopback that sends datagrams and collects answers. */
export class RawClient {
  private readonly socket = dgram.createSocket('udp4');
  private readonly received: Buffer[] = [];
  private waiters: Array<() => void> = [];

  /** `address`: any 127.x.y.z, to appear as a different NAS. */
  static async open(address = '127.0.0.1'): Promise<RawClient> {
    const c = new RawClient();
    c.socket.on('message', (m) => {
      c.received.push(m);
      for (const w of c.waiters.splice(0)) w();
    });
    await new Promise<void>((r) => c.socket.bind(0, address, r));
    return c;
  }

  send(packet: Buffer, port: number): void {
    this.socket.send(packet, port, '127.0.0.1');
  }

  /** The next answer, or undefined after `timeoutMs`. */
  async next(timeoutMs = 1000): Promise<Buffer | undefined> {
    if (this.received.length > 0) return this.received.shift();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return this.received.shift();
  }

  close(): void {
    this.socket.close();
  }
}
