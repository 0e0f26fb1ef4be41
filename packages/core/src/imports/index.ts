export * from './types.js';
export { ImportService, ImportRefusedError, type ImportInput, type ImportCommitOptions } from './import-service.js';
export { AZURE_COLUMNS, parseAzureCsv, type AzureCsvOptions } from './azure-csv.js';
export { readPskc, type PskcKeys, type PskcEntry, type PskcDocument } from './pskc.js';
export { USERS_CSV_COLUMNS, parseUsersCsv, type UsersCsvOptions } from './users-csv.js';
export { usersCsvChunks, USERS_EXPORT_COLUMNS } from './users-export.js';
export { parseCsv, csvLine, csvCell, type CsvRecord } from './csv.js';
export { decryptValue, derivePassphraseKey, macMatches, PskcCryptoError } from './pskc-crypto.js';
