import { ConfigDocumentError } from './errors.js';
import { CONFIG_VERSION } from './document.js';

type Json = Record<string, unknown>;

/**
 * How documents of older versions become the current one, one step at a time, before validation. Add a step for
 * every change of the document's shape, and never edit a published one: files made by old versions stay readable.
 */
export interface ConfigMigration {
  from: number;
  to: number;
  /** Shown in the import preview. */
  description: string;
  migrate(document: Json): Json;
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): Json[] => (Array.isArray(v) ? v.filter(isObject) : []);

export const CONFIG_MIGRATIONS: readonly ConfigMigration[] = [
  {
    // version 0 (otpgate before backends and single-factor clients): sections at the top level, clients and users
    // with "mode", no per-client backends, no secrets section (it never exported secrets)
    from: 0,
    to: 1,
    description: 'version 0 -> 1: sections moved into "body"; clients get backends, single_factor, on_backend_error; "mode" renamed "auth_mode"',
    migrate(doc) {
      const { settings, groups, clients, users, exported_at, generator } = doc;
      // version 0 kept no creation times: the export's time stands in for them
      const stamp = typeof exported_at === 'string' && !Number.isNaN(Date.parse(exported_at)) ? Date.parse(exported_at) : 0;
      const migratedUsers = users === undefined ? undefined : list(users).map(({ mode, ...u }) => ({
        initial_login_until: null,
        attributes: [],
        groups: [],
        status: 'active',
        has_password: false,
        created_at: stamp,
        updated_at: stamp,
        ...u,
        auth_mode: mode ?? null,
      }));
      return {
        format: doc.format,
        version: 1,
        exported_at: typeof exported_at === 'string' ? exported_at : new Date(0).toISOString(),
        generator: typeof generator === 'string' ? generator : 'otpgate (version 0 document)',
        contents: { users: migratedUsers !== undefined, secrets: false },
        body: {
          // settings without "backends" get the default (local) from the schema
          settings: isObject(settings) ? settings : {},
          groups: list(groups).map((g) => ({ description: '', attributes: [], ...g })),
          clients: list(clients).map(({ mode, ...c }) => ({
            on_backend_error: 'reject',
            backends: null,
            single_factor: false,
            description: '',
            ...c,
            auth_mode: mode ?? null,
          })),
          ...(migratedUsers === undefined ? {} : { users: migratedUsers }),
        },
        secrets: null,
        checksum: doc.checksum,
      };
    },
  },
];

/** Bring a document of any known version to the current one; returns it and the steps applied. */
export function migrateConfigDocument(document: Json, migrations: readonly ConfigMigration[] = CONFIG_MIGRATIONS): { document: Json; applied: string[] } {
  const applied: string[] = [];
  let doc = document;
  if (typeof doc.version !== 'number' || !Number.isInteger(doc.version)) throw new ConfigDocumentError('the document has no version number');
  let version: number = doc.version;
  if (version > CONFIG_VERSION) {
    throw new ConfigDocumentError(`the document is version ${version}, made by a newer otpgate; this one reads versions up to ${CONFIG_VERSION}: upgrade otpgate first`);
  }
  while (version < CONFIG_VERSION) {
    const step = migrations.find((m) => m.from === version);
    if (!step) throw new ConfigDocumentError(`no migration from document version ${version}: this otpgate cannot read it`);
    doc = step.migrate(doc);
    applied.push(step.description);
    version = step.to;
  }
  return { document: doc, applied };
}
