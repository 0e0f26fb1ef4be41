import { InvalidInputError, ValidationError, parseWith, problemsFromZod, errorMessage } from '@otpgate/shared';
import { IdSequence, recordAdminAction, type Actor, type ServiceContext } from '../services/context.js';
import { CONFIG_FORMAT, configDocumentSchema, configSecretsSchema, type ConfigDocument, type ConfigSecrets } from './document.js';
import { bodyHash, documentChecksum, openSecrets } from './envelope.js';
import { ConfigDocumentError, DamagedDocumentError } from './errors.js';
import { buildConfigDocument, type ConfigExportOptions } from './export.js';
import { planConfigImport, type ConfigImportSummary } from './import-plan.js';
import { migrateConfigDocument } from './migrations.js';

/** A document read, checked, migrated and decrypted: ready to preview and apply. */
export interface OpenedConfig {
  document: ConfigDocument;
  /** The version the file was written in, and the migrations that brought it to the current one. */
  sourceVersion: number;
  migrations: string[];
  secrets?: ConfigSecrets;
}

export interface ConfigImportPreview extends ConfigImportSummary {
  source_version: number;
  migrations: string[];
  exported_at: string;
  generator: string;
  secrets_included: boolean;
  /** Entries the import adds to the change log (what replicas receive); 0 = nothing to do. */
  changes: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Config export and import ("moving to a new appliance or a new version"): one versioned JSON document, secrets
 * only on request and then encrypted, a checksum against damage. Import reads and validates the whole document
 * first, shows what would change, and applies it in one transaction through Store.commit.
 */
export class ConfigTransferService {
  constructor(private readonly ctx: ServiceContext) {}

  async export(options: ConfigExportOptions, actor: Actor): Promise<ConfigDocument> {
    const document = await buildConfigDocument(this.ctx.store, options);
    recordAdminAction(this.ctx, actor, 'config.export', CONFIG_FORMAT, { details: { users: document.contents.users, secrets: document.contents.secrets } });
    return document;
  }

  /** Parse, verify the checksum, migrate, validate and (with the passphrase) decrypt. Nothing is written. */
  async open(text: string, passphrase?: string): Promise<OpenedConfig> {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new ConfigDocumentError(`not a config document: not JSON (${errorMessage(err)})`);
    }
    if (!isObject(raw) || raw.format !== CONFIG_FORMAT) {
      throw new ConfigDocumentError(`not an otpgate config document (expected "format": "${CONFIG_FORMAT}")`);
    }
    if (typeof raw.checksum !== 'string') throw new DamagedDocumentError('it has no checksum');
    if (documentChecksum(raw) !== raw.checksum) throw new DamagedDocumentError('its checksum does not match its contents (changed or truncated after the export)');
    const sourceVersion = typeof raw.version === 'number' ? raw.version : NaN;
    const { document: migrated, applied } = migrateConfigDocument(raw);
    const document = parseWith(configDocumentSchema, migrated, 'config document');
    const opened: OpenedConfig = { document, sourceVersion, migrations: applied };
    if (document.secrets) {
      if (passphrase === undefined) {
        throw new InvalidInputError('the document holds encrypted secrets: give the passphrase it was exported with (--passphrase-stdin)', 'passphrase');
      }
      const plain = await openSecrets(document.secrets, passphrase, bodyHash(document.body));
      const check = configSecretsSchema.safeParse(plain);
      if (!check.success) throw new ValidationError('config document secrets', problemsFromZod(check.error));
      opened.secrets = check.data;
    }
    return opened;
  }

  private plan(opened: OpenedConfig) {
    const plan = planConfigImport(this.ctx.store, this.ctx.dictionary, opened.document.body, opened.secrets);
    if (plan.problems.length > 0) throw new ValidationError('config document', plan.problems);
    return plan;
  }

  private describe(opened: OpenedConfig, summary: ConfigImportSummary, changes: number): ConfigImportPreview {
    return {
      source_version: opened.sourceVersion,
      migrations: opened.migrations,
      exported_at: opened.document.exported_at,
      generator: opened.document.generator,
      secrets_included: opened.secrets !== undefined,
      ...summary,
      changes,
    };
  }

  /** What applying would change (the dry run). Nothing is written. */
  preview(opened: OpenedConfig): ConfigImportPreview {
    const plan = this.plan(opened);
    // ids are only read here (IdSequence writes its counters in finish(), which a preview never calls)
    const count = plan.changes(new IdSequence(this.ctx.store)).length;
    return this.describe(opened, plan.summary, count);
  }

  /** Apply in one transaction: planned again inside it, so it matches the store as it is when written. */
  apply(opened: OpenedConfig, actor: Actor): ConfigImportPreview {
    this.ctx.store.assertWritable();
    const preview = this.ctx.store.db.transaction(() => {
      const plan = this.plan(opened);
      const ids = new IdSequence(this.ctx.store);
      const changes = plan.changes(ids);
      ids.finish();
      if (changes.length > 0) this.ctx.store.commit(changes);
      return this.describe(opened, plan.summary, changes.length);
    });
    recordAdminAction(this.ctx, actor, 'config.import', CONFIG_FORMAT, { details: {
      source_version: preview.source_version,
      changes: preview.changes,
    } });
    return preview;
  }
}
