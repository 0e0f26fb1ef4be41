import { describe, expect, it } from 'vitest';
import { parseCidr, type ClientRecord } from '@otpgate/shared';
import { ClientTable } from '../src/radius/client-table.js';
import { DuplicateCache } from '../src/radius/duplicate-cache.js';

function record(id: number, name: string, address: string): ClientRecord {
  return {
    id, name, address, secret: `secret-of-${name}`, require_message_authenticator: true, auth_mode: null,
    on_backend_error: 'reject',
  backends: null,
  single_factor: false, description: '',
  };
}

describe('parseCidr', () => {
  it('canonicalises addresses and blocks', () => {
    const text = (s: string) => {
      const c = parseCidr(s);
      return typeof c === 'string' ? `error: ${c}` : c.text;
    };
    expect(text('10.1.2.3')).toBe('10.1.2.3');
    expect(text('10.1.2.3/8')).toBe('10.0.0.0/8');
    expect(text(' 192.168.1.77/24 ')).toBe('192.168.1.0/24');
    expect(text('10.1.2.3/32')).toBe('10.1.2.3');
    expect(text('0.0.0.0/0')).toBe('0.0.0.0/0');
    expect(text('2001:DB8:0:0::1/32')).toBe('2001:db8::/32');
    expect(text('2001:db8:0:0:0:0:0:10')).toBe('2001:db8::10');
    expect(text('fe80::1:2/64')).toBe('fe80::/64');
    expect(text('1:0:0:1:0:0:0:1')).toBe('1:0:0:1::1');
    expect(text('::')).toBe('::');
    expect(text('10.0.0.0/33')).toBe('error: "10.0.0.0/33": prefix length must be 0-32');
    expect(text('10.0.0.0/')).toBe('error: "10.0.0.0/": prefix length must be 0-32');
    expect(text('::/129')).toBe('error: "::/129": prefix length must be 0-128');
    expect(text('nas.example.com')).toBe('error: "nas.example.com" is not an IP address or CIDR block');
  });
});

describe('ClientTable', () => {
  const records = [
    record(1, 'ten', '10.0.0.0/8'),
    record(2, 'ten-one', '10.1.0.0/16'),
    record(3, 'exact', '10.1.2.3'),
    record(4, 'doc6', '2001:db8::/32'),
    record(5, 'doc6-one', '2001:db8:1::/48'),
    record(6, 'loopback', '127.0.0.1'),
    record(7, 'v6-host', '2001:db8:1::99'),
    record(8, 'ten-one-two', '10.1.2.0/24'),
  ];

  function table(list = records): ClientTable {
    const invalid: string[] = [];
    const t = ClientTable.fromRecords(list, (r, problem) => invalid.push(`${r.name}: ${problem}`));
    expect(invalid).toEqual([]);
    return t;
  }

  const cases: Array<[string, string | undefined]> = [
    ['10.1.2.3', 'exact'], // an exact address beats every block holding it
    ['10.1.2.4', 'ten-one-two'], // the longest prefix wins
    ['10.1.9.9', 'ten-one'],
    ['10.200.0.1', 'ten'],
    ['11.0.0.1', undefined],
    ['127.0.0.1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'], // what a dual-stack socket reports for an IPv4 peer
    ['::ffff:10.1.9.9', 'ten-one'],
    ['127.0.0.2', undefined],
    ['2001:db8:1::99', 'v6-host'],
    ['2001:db8:1::5', 'doc6-one'],
    ['2001:db8:2::5', 'doc6'],
    ['2001:db9::1', undefined],
    ['::1', undefined],
  ];

  it.each(cases)('%s -> %s', (address, expected) => {
    expect(table().find(address)?.name).toBe(expected);
  });

  it('the answer does not depend on the order clients were added in', () => {
    const reversed = table([...records].reverse());
    const shuffled = table([records[7]!, records[0]!, records[3]!, records[2]!, records[6]!, records[1]!, records[5]!, records[4]!]);
    for (const [address, expected] of cases) {
      expect(reversed.find(address)?.name, address).toBe(expected);
      expect(shuffled.find(address)?.name, address).toBe(expected);
    }
  });

  it('gives repeated lookups (cached) the same answer, including "no client"', () => {
    const t = table();
    for (let i = 0; i < 3; i++) {
      expect(t.find('10.1.2.4')?.name).toBe('ten-one-two');
      expect(t.find('11.0.0.1')).toBeUndefined();
    }
  });

  it('catch-all blocks match everything of their family', () => {
    const t = table([record(1, 'any4', '0.0.0.0/0'), record(2, 'any6', '::/0')]);
    expect(t.find('203.0.113.5')?.name).toBe('any4');
    expect(t.find('2001:db8::1')?.name).toBe('any6');
  });

  it('keeps the secret as bytes and reports unusable records instead of failing', () => {
    const problems: string[] = [];
    const t = ClientTable.fromRecords([record(1, 'good', '192.0.2.1'), record(2, 'bad', 'nas.example.com')], (r, p) => problems.push(`${r.name}: ${p}`));
    expect(t.clients.map((c) => c.name)).toEqual(['good']);
    expect(t.find('192.0.2.1')?.secret).toEqual(Buffer.from('secret-of-good'));
    expect(problems).toEqual(['bad: "nas.example.com" is not an IP address or CIDR block']);
  });
});

describe('DuplicateCache', () => {
  const key = (id: number, port = 5000) => DuplicateCache.key('10.0.0.1', port, id, Buffer.alloc(16, id));

  it('new -> in-progress -> answered with the same bytes', () => {
    const cache = new DuplicateCache(5000, () => 0);
    expect(cache.begin(key(1))).toEqual({ kind: 'new' });
    expect(cache.begin(key(1))).toEqual({ kind: 'in-progress' });
    const response = Buffer.from('the answer');
    cache.answered(key(1), response);
    expect(cache.begin(key(1))).toEqual({ kind: 'answered', response });
  });

  it('a request still being worked on stays in progress however long it takes, and its answer is then cached', () => {
    let now = 0;
    const cache = new DuplicateCache(1000, () => now);
    cache.begin(key(1));
    for (now = 0; now <= 30_000; now += 500) {
      cache.begin(key(1000 + now)); // other traffic turns the generations
      expect(cache.begin(key(1)), `at ${now} ms`).toEqual({ kind: 'in-progress' });
    }
    cache.answered(key(1), Buffer.from('late answer'));
    expect(cache.begin(key(1))).toEqual({ kind: 'answered', response: Buffer.from('late answer') });
  });

  it('tells requests apart by address, port, identifier and authenticator', () => {
    const k = DuplicateCache.key('10.0.0.1', 5000, 7, Buffer.alloc(16, 1));
    const others = [
      DuplicateCache.key('10.0.0.2', 5000, 7, Buffer.alloc(16, 1)),
      DuplicateCache.key('10.0.0.1', 5001, 7, Buffer.alloc(16, 1)),
      DuplicateCache.key('10.0.0.1', 5000, 8, Buffer.alloc(16, 1)),
      DuplicateCache.key('10.0.0.1', 5000, 7, Buffer.alloc(16, 2)),
    ];
    const cache = new DuplicateCache(5000, () => 0);
    cache.begin(k);
    for (const o of others) expect(cache.begin(o)).toEqual({ kind: 'new' });
  });

  it('abandon forgets a request, so a retransmission is worked on again', () => {
    const cache = new DuplicateCache(5000, () => 0);
    cache.begin(key(1));
    cache.abandon(key(1));
    expect(cache.begin(key(1))).toEqual({ kind: 'new' });
    cache.answered(key(1), Buffer.from('x'));
    cache.abandon(key(1));
    expect(cache.begin(key(1))).toEqual({ kind: 'new' });
  });

  it('keeps an answer at least ttl and at most 2 x ttl, wherever it falls between rotations', () => {
    const ttl = 1000;
    const tick = 50;
    for (const created of [0, 50, 500, 950, 1000, 1450, 2950]) {
      let now = 0;
      const cache = new DuplicateCache(ttl, () => now);
      const seen: Array<[number, string]> = [];
      // other traffic every tick drives the generations
      for (now = 0; now <= created + 2 * ttl + 200; now += tick) {
        cache.begin(key(100 + now));
        if (now === created) {
          cache.begin(key(1));
          cache.answered(key(1), Buffer.from('cached'));
        }
        if (now > created) seen.push([now - created, cache.begin(key(1)).kind]);
      }
      const answeredAges = seen.filter(([, kind]) => kind === 'answered').map(([age]) => age);
      const lastAnswered = Math.max(...answeredAges);
      expect(Math.min(...answeredAges), `created ${created}`).toBe(tick);
      expect(lastAnswered, `created ${created}`).toBeGreaterThanOrEqual(ttl - tick);
      expect(lastAnswered, `created ${created}`).toBeLessThan(2 * ttl);
      // once gone it stays gone (it became a new request and then in progress)
      expect(seen.filter(([age]) => age > lastAnswered).every(([, kind]) => kind !== 'answered'), `created ${created}`).toBe(true);
    }
  });

  it('forgets everything after a quiet spell of 2 x ttl', () => {
    let now = 0;
    const cache = new DuplicateCache(1000, () => now);
    cache.begin(key(1));
    cache.answered(key(1), Buffer.from('x'));
    now = 1999;
    expect(cache.begin(key(1)).kind).toBe('answered');
    now = 0;
    const cache2 = new DuplicateCache(1000, () => now);
    cache2.begin(key(2));
    cache2.answered(key(2), Buffer.from('y'));
    now = 2000;
    expect(cache2.begin(key(2)).kind).toBe('new');
    expect(cache2.size).toBe(1);
  });

  it('an answer given after a rotation is still found', () => {
    let now = 0;
    const cache = new DuplicateCache(1000, () => now);
    cache.begin(key(1));
    now = 1100;
    cache.begin(key(2)); // rotates: the in-progress entry moves to the older generation
    cache.answered(key(1), Buffer.from('late'));
    now = 1900;
    expect(cache.begin(key(1))).toEqual({ kind: 'answered', response: Buffer.from('late') });
  });
});
