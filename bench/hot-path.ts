/**
 * The RADIUS hot path of one thread, without sockets: the same code a RADIUS worker runs for each datagram (client
 * lookup, codec, Message-Authenticator, duplicate cache, pipeline, replay write, auth log row, log line, answer), fed
 * pre-built Access-Requests in batches of IN_FLIGHT per turn of the event loop, as the kernel hands them over. Prints
 * the CPU time of this process per request (user + system), which holds better than a wall-clock figure on a busy
 * machine, and is what to compare between two versions of the code; run it under `node --cpu-prof` for a profile.
 *
 * Usage: node hot-path.js DATA_DIR USERS [ROUNDS=3]  (DATA_DIR: a copy of an engine cache from bench/run.sh; the
 * users are the shared harness's generated ones, code-only; SHARED_BENCH: the harness)
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Metrics, RadiusService, Store, StoreHealth, createLogger } from '@otpgate/core';
import { parseNodeConfig } from '@otpgate/shared';

interface BenchUser {
  username: string;
  password: string;
  key: Buffer;
}
interface UsersModule {
  benchUsers: (n: number, seed: string) => BenchUser[];
  totp: (key: Buffer, now: number) => string;
}
type Receive = (socket: { send(msg: Buffer, port: number, address: string): void }, datagram: Buffer, rinfo: { address: string; port: number }) => void;

const [dataDir, usersArg = '20000', roundsArg = '3'] = process.argv.slice(2);
if (!dataDir) throw new Error('usage: hot-path.js DATA_DIR USERS [ROUNDS]');
const users = Number(usersArg);
const rounds = Number(roundsArg);
const IN_FLIGHT = 256;
const shared = process.env.SHARED_BENCH ?? join(import.meta.dirname, '..', '..', '..', 'shared', 'bench');
const { benchUsers, totp } = (await import(pathToFileURL(join(shared, 'users.mjs')).href)) as UsersModule;
const { createHash, createHmac, randomBytes } = await import('node:crypto');

const secret = Buffer.from('testing123');
function request(id: number, user: string, password: string): Buffer {
  const attr = (type: number, value: Buffer) => Buffer.concat([Buffer.from([type, value.length + 2]), value]);
  const auth = randomBytes(16);
  const padded = Buffer.alloc(16);
  Buffer.from(password).copy(padded);
  const mask = createHash('md5').update(secret).update(auth).digest();
  for (let j = 0; j < 16; j++) padded[j]! ^= mask[j]!;
  const attrs = Buffer.concat([attr(80, Buffer.alloc(16)), attr(1, Buffer.from(user)), attr(2, padded), attr(4, Buffer.from([127, 0, 0, 1]))]);
  const packet = Buffer.concat([Buffer.from([1, id, 0, 0]), auth, attrs]);
  packet.writeUInt16BE(packet.length, 2);
  createHmac('md5', secret).update(packet).digest().copy(packet, 22);
  return packet;
}

const config = parseNodeConfig(`node:\n  name: bench\n  data_dir: ${JSON.stringify(dataDir)}\nradius:\n  listen: ["127.0.0.1:0"]\n`, 'bench', dataDir);
const logger = createLogger('info', 'bench', { write: () => undefined });
const metrics = new Metrics({ processMetrics: false });
const store = await Store.open(dataDir, { stateBusyTimeoutMs: 0 });
const service = new RadiusService({ config, listen: config.radius.listen, store, logger, metrics, health: new StoreHealth(), node: 'bench' });
await service.start();
await service.repository.users.warm();
const receive = (service.server as unknown as { receive: Receive }).receive.bind(service.server);

const everyone = benchUsers(users, 'bench');
let answered = 0;
let accepted = 0;
const socket = {
  send(msg: Buffer) {
    answered++;
    if (msg[0] === 2) accepted++;
  },
};
for (let round = 1; round <= rounds; round++) {
  // the same codes each round: the steps the last round used are forgotten first
  store.state.prepare('delete from token_state').run();
  const now = Date.now();
  const packets = everyone.map((u, i) => request(i % 256, u.username, totp(u.key, now)));
  answered = accepted = 0;
  const before = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < packets.length; i += IN_FLIGHT) {
    for (let j = i; j < Math.min(i + IN_FLIGHT, packets.length); j++) receive(socket, packets[j]!, { address: '127.0.0.1', port: 40000 + Math.floor(j / 256) });
    await new Promise((resolve) => setImmediate(resolve));
  }
  while (answered < packets.length && performance.now() - started < 30_000) await new Promise((resolve) => setTimeout(resolve, 1));
  const used = process.cpuUsage(before);
  const us = (used.user + used.system) / packets.length;
  console.log(`round ${round}: ${packets.length} requests, ${accepted} accepted, ${answered} answered; CPU ${us.toFixed(1)} us per request (user ${(used.user / packets.length).toFixed(1)}, system ${(used.system / packets.length).toFixed(1)}); ${((performance.now() - started) / 1000).toFixed(2)} s`);
}
await service.stop(1000);
store.close();
