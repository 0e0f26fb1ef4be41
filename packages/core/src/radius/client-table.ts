import { addressBytes, cidrContains, normalizeAddress, parseCidr, type Cidr, type ClientRecord } from '@otpgate/shared';

/** A RADIUS client as the server uses it: the record plus its secret as bytes and its parsed address. */
export interface RadiusClient extends Omit<ClientRecord, 'secret'> {
  secret: Buffer;
  cidr: Cidr;
}

const CACHE_LIMIT = 4096;

/**
 * Source address -> client. Exact addresses by hash; CIDR blocks most specific first. Answers (including "no
 * client") are cached per address, with a bound so a spoofed flood from many addresses cannot grow it without end.
 */
export class ClientTable {
  private readonly exact = new Map<string, RadiusClient>();
  private readonly blocks: RadiusClient[];
  private readonly cache = new Map<string, RadiusClient | null>();

  constructor(readonly clients: readonly RadiusClient[]) {
    const blocks: RadiusClient[] = [];
    for (const c of clients) {
      const full = c.cidr.bits === 128;
      if (full) this.exact.set(normalizeAddress(c.cidr.text), c);
      else blocks.push(c);
    }
    this.blocks = blocks.sort((a, b) => b.cidr.bits - a.cidr.bits);
  }

  /** Build from stored records; one with an unusable address is reported and left out, not fatal. */
  static fromRecords(records: readonly ClientRecord[], onInvalid: (record: ClientRecord, problem: string) => void): ClientTable {
    const clients: RadiusClient[] = [];
    for (const r of records) {
      const cidr = parseCidr(r.address);
      if (typeof cidr === 'string') onInvalid(r, cidr);
      else clients.push({ ...r, secret: Buffer.from(r.secret, 'utf8'), cidr });
    }
    return new ClientTable(clients);
  }

  find(sourceAddress: string): RadiusClient | undefined {
    const cached = this.cache.get(sourceAddress);
    if (cached !== undefined) return cached ?? undefined;
    const found = this.lookup(normalizeAddress(sourceAddress));
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(sourceAddress, found ?? null);
    return found;
  }

  private lookup(address: string): RadiusClient | undefined {
    const exact = this.exact.get(address);
    if (exact) return exact;
    if (this.blocks.length === 0) return undefined;
    const bytes = addressBytes(address);
    if (!bytes) return undefined;
    return this.blocks.find((c) => cidrContains(c.cidr, bytes));
  }
}
