/**
 * What held push logins cost a RADIUS thread: HELD logins (one user each) held at once through the master's own push
 * channel (the state database, as a RADIUS thread on the master holds them), then all approved. Prints the RSS before
 * and while they are held, the event-loop delay (perf_hooks monitorEventLoopDelay) over HOLD_MS while they wait
 * (with the decision poller running every 250 ms) next to its anchor (the same thread, nothing held), and how long the approval of all of them took to reach them.
 *
 * Usage: pnpm run build && npx tsc -p bench/tsconfig.json && node --expose-gc bench/results/build/push-held.js [HELD=1000] [HOLD_MS=5000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { AuthRepository, CLI_ACTOR, HeldPushes, PushTable, Store, StoreHealth, createLogger, createServices, loadDictionary, localPushChannel, type PushOutcome } from '@otpgate/core';

const [heldArg = '1000', holdArg = '5000'] = process.argv.slice(2);
const HELD = Number(heldArg);
const HOLD_MS = Number(holdArg);
const logger = createLogger('silent', 'bench');
const mib = (bytes: number) => (bytes / 1048576).toFixed(1);
const gc = (globalThis as { gc?: () => void }).gc;
const settle = () => new Promise((r) => setTimeout(r, 500));

const dir = mkdtempSync(join(tmpdir(), 'otpgate-bench-push-'));
const store = await Store.create(join(dir, 'data'));
const services = createServices({ store, dictionary: loadDictionary([]), logger });
const ids: number[] = [];
for (let i = 0; i < HELD; i++) ids.push((await services.users.add({ username: `user${i}` }, CLI_ACTOR)).id);
const repository = new AuthRepository(store, () => store.settings(), { maxCachedUsers: HELD, health: new StoreHealth() });
const held = new HeldPushes(localPushChannel(repository, () => store.settings()), { maxHeld: HELD, pollMs: 250, graceMs: 1500, logger });

/** The event-loop delay over HOLD_MS: idle, then with the logins held. */
async function loopDelay() {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  await new Promise((r) => setTimeout(r, HOLD_MS));
  delay.disable();
  return delay;
}
const idle = await loopDelay();
gc?.();
await settle();
const rssBefore = process.memoryUsage().rss;
const heapBefore = process.memoryUsage().heapUsed;
const answers: Array<Promise<PushOutcome>> = [];
for (let i = 0; i < HELD; i++) {
  const authenticator = Buffer.from(String(i).padStart(16, '0')).toString('hex');
  answers.push(held.hold({ request_key: `nas|${authenticator}|${ids[i]}`, user_id: ids[i]!, username: `user${i}`, client: 'nas', client_address: '192.0.2.1' }, 120_000));
}
await settle();
if (held.size !== HELD) throw new Error(`only ${held.size} of ${HELD} held`);

const delay = await loopDelay();
gc?.();
const rssHeld = process.memoryUsage().rss;
const heapHeld = process.memoryUsage().heapUsed;

const table = new PushTable(store.state);
const pending = store.state.prepare("select id, user_id from pushes where status = 'pending'").all() as Array<{ id: string; user_id: number }>;
const started = performance.now();
for (const p of pending) table.decide(p.id, p.user_id, 'approved');
const outcomes = await Promise.all(answers);
const approvedMs = performance.now() - started;
const approved = outcomes.filter((o) => o === 'approved').length;

const ms = (ns: number) => (ns / 1e6).toFixed(1);
console.log(`command: node --expose-gc bench/results/build/push-held.js ${HELD} ${HOLD_MS}${gc ? '' : '  (no --expose-gc: RSS without a collection first)'}`);
console.log(`held at once: ${HELD} (one RADIUS thread, master's push channel, poller every 250 ms)`);
console.log(`RSS before ${mib(rssBefore)} MiB, while held ${mib(rssHeld)} MiB: +${mib(rssHeld - rssBefore)} MiB; heap +${mib(heapHeld - heapBefore)} MiB (${((heapHeld - heapBefore) / HELD / 1024).toFixed(1)} KiB per held login)`);
const figures = (h: typeof delay) => `p50 ${ms(h.percentile(50))} ms, p99 ${ms(h.percentile(99))} ms, max ${ms(h.max)} ms`;
console.log(`event-loop delay over ${HOLD_MS} ms (resolution 10 ms): nothing held (anchor) ${figures(idle)}; ${HELD} held ${figures(delay)}`);
console.log(`approval of all ${pending.length} reached their logins in ${approvedMs.toFixed(0)} ms; approved: ${approved}`);
held.close();
repository.close();
store.close();
rmSync(dir, { recursive: true, force: true });
