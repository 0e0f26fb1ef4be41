import { maskSettingsSecrets, SETTINGS_SECRET_FIELDS, type Settings } from '@otpgate/shared';
import type { Store } from '../store/store.js';
import { CONFIG_FORMAT, CONFIG_VERSION, type ConfigBody, type ConfigDocument, type ConfigSecrets } from './document.js';
import { bodyHash, documentChecksum, sealSecrets } from './envelope.js';

export interface ConfigExportOptions {
  /** Users (profiles and groups); with `secrets` also their tokens, local password hashes and the hardware inventory. */
  users?: boolean;
  /** Include the secrets, encrypted under this passphrase. */
  secrets?: { passphrase: string; scryptN?: number };
  /** Who made the document ("otpgate 0.1.0 on otp1"). */
  generator: string;
}

const byName = <T>(key: (t: T) => string) => (a: T, b: T) => key(a).localeCompare(key(b));

function backendSecrets(settings: Settings): ConfigSecrets['backends'] {
  const out: ConfigSecrets['backends'] = {};
  for (const b of settings.backends) {
    const values = b as Record<string, unknown>;
    const found: Record<string, string> = {};
    for (const f of SETTINGS_SECRET_FIELDS) if (typeof values[f] === 'string' && values[f] !== '') found[f] = values[f];
    if (Object.keys(found).length > 0) out[b.name] = found;
  }
  return out;
}

/** The document for this node's store. Secrets appear only inside the encrypted section, and only when asked for. */
export async function buildConfigDocument(store: Store, options: ConfigExportOptions): Promise<ConfigDocument> {
  const settings = store.settings();
  const withSecrets = options.secrets !== undefined;
  const secrets: ConfigSecrets = { backends: backendSecrets(settings), clients: {}, users: {}, tokens: [], hardware_tokens: {} };
  const body: ConfigBody = {
    settings: maskSettingsSecrets(settings),
    groups: store.readAll('group').map(({ id: _id, ...g }) => g).sort(byName((g) => g.name)),
    clients: store
      .readAll('client')
      .sort(byName((c) => c.name))
      .map(({ id: _id, secret, ...c }) => {
        secrets.clients[c.name] = secret;
        return c;
      }),
  };
  if (options.users) {
    const users = store.readAll('user').sort(byName((u) => u.username));
    const names = new Map(users.map((u) => [u.id, u.username]));
    body.users = users.map(({ id: _id, password_hash, ...u }) => {
      if (password_hash !== null) secrets.users[u.username] = password_hash;
      return { ...u, has_password: password_hash !== null };
    });
    // a token or an inventory entry without its secret is nothing to restore: they come only with the secrets
    if (withSecrets) {
      const tokens = store.readAll('token').sort((a, b) => names.get(a.user_id)!.localeCompare(names.get(b.user_id)!) || a.id - b.id);
      const holders = new Map(tokens.map((t) => [t.id, names.get(t.user_id)!]));
      const states = new Map(store.readAll('token_state').map((s) => [s.token_id, s]));
      body.tokens = tokens.map(({ id, user_id, secret, ...t }) => {
        secrets.tokens.push(secret);
        return { ...t, username: names.get(user_id)!, last_step: states.get(id)?.last_step ?? -1, drift: states.get(id)?.drift ?? 0 };
      });
      body.hardware_tokens = store
        .readAll('hardware_token')
        .sort(byName((h) => h.serial))
        .map(({ id: _id, token_id, secret, ...h }) => {
          secrets.hardware_tokens[h.serial] = secret;
          return { ...h, assigned_to: token_id === null ? null : (holders.get(token_id) ?? null) };
        });
    }
  }
  const unsealed = {
    format: CONFIG_FORMAT,
    version: CONFIG_VERSION,
    exported_at: new Date().toISOString(),
    generator: options.generator,
    contents: { users: options.users === true, secrets: withSecrets },
    body,
    secrets: options.secrets ? await sealSecrets(secrets, options.secrets.passphrase, bodyHash(body), options.secrets.scryptN) : null,
  } satisfies Omit<ConfigDocument, 'checksum'>;
  return { ...unsealed, checksum: documentChecksum(unsealed) };
}
