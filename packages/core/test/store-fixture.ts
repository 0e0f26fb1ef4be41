import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../src/logger.js';
import { loadDictionary, type Dictionary } from '../src/radius/dictionary.js';
import { createServices, type Services } from '../src/services/index.js';
import { AuthRepository } from '../src/store/auth-repository.js';
import { StoreHealth } from '../src/store/store-health.js';
import { Store } from '../src/store/store.js';

const dictionary: Dictionary = loadDictionary();
const logger = createLogger('silent', 'test');

export interface Fixture {
  dir: string;
  store: Store;
  services: Services;
  close(): void;
}

/** A new node data folder in a temporary directory, with the admin services over it. */
export async function createFixture(): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'otpgate-unit-'));
  const store = await Store.create(join(dir, 'data'));
  return {
    dir,
    store,
    services: createServices({ store, dictionary, logger }),
    close() {
      for (const repository of repositories.get(store) ?? []) repository.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The RFC 4226 seed as handed over on a hardware token sheet, and as otpgate stores it. */
export const SEED_HEX = 'hex:3132333435363738393031323334353637383930';
export const SEED_BASE32 = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

const repositories = new WeakMap<Store, AuthRepository[]>();

/** The RADIUS hot path's view of a fixture's store (closed with the fixture). */
export function hotPath(store: Store): AuthRepository {
  const repository = new AuthRepository(store, () => store.settings(), { maxCachedUsers: 100, health: new StoreHealth() });
  repositories.set(store, [...(repositories.get(store) ?? []), repository]);
  return repository;
}
