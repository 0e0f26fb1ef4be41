export * from './document.js';
export * from './errors.js';
export { CONFIG_MIGRATIONS, migrateConfigDocument, type ConfigMigration } from './migrations.js';
export { DEFAULT_SCRYPT_N, CONFIG_MIN_PASSPHRASE_LENGTH, documentChecksum, sealSecrets, openSecrets } from './envelope.js';
export { buildConfigDocument, type ConfigExportOptions } from './export.js';
export type { ConfigImportSummary, EntityChanges } from './import-plan.js';
export { ConfigTransferService, type ConfigImportPreview, type OpenedConfig } from './config-transfer-service.js';
