export * from './logger.js';
export * from './metrics.js';
export { BoundedMap, type BoundedMapOptions, type MapMeter } from './bounded-map.js';
export * from './node.js';
export * from './services/index.js';
export * from './imports/index.js';
export { pskFromHex } from './imports/psk-key.js';
export * from './config-transfer/index.js';
export { Store, DATA_FILES, type NodeRole, type Change } from './store/store.js';
export { Database, StoreError } from './store/database.js';
export {
  pruneTable,
  repeatInBackground,
  scheduleRetention,
  DEFAULT_CHUNK_ROWS,
  type PruneRequest,
  type PruneResult,
  type RetainedTable,
  type RetentionJob,
  type RetentionPolicy,
} from './store/retention.js';
export { KeyFileError } from './store/key-file.js';
export { ClusterFiles, ClusterSetupError, CLUSTER_FILES, type ClusterFile } from './store/cluster-files.js';
export { AuthRepository, type AuthLogRecord, type StepUse, type PendingChallenge } from './store/auth-repository.js';
export { StoreHealth, describeWriteError, storeWriteProblem } from './store/store-health.js';
export { pruneState } from './store/state-housekeeping.js';
export {
  ROLLUP_CHUNK,
  TIMELINE_MS,
  localAuthBuckets,
  markAuthBucketsReported,
  recordReportedAuthBuckets,
  replicaAuthBuckets,
  rollUpAuthLog,
  unreportedAuthBuckets,
  type BucketReportResult,
} from './store/auth-buckets.js';
export { USE_STEP_SQL, claimStep, markStepsReported, publishSteps, recordReportedSteps, unreportedSteps, type ClaimResult, type StepReportResult } from './store/token-state.js';
export { markFailuresReported, publishLocks, recordReportedFailures, unreportedFailures, type FailureReport } from './store/lockouts.js';
export { readChanges, insertEntry, changeHashAt, logBase, resetLog, type ChangeHead } from './store/change-log.js';
export {
  compactChangeLog,
  compactionFloor,
  scheduleLogCompaction,
  COMPACTION_KEEP_TAIL,
  COMPACTION_MIN_ENTRIES,
  type CompactionOptions,
} from './store/log-compaction.js';
export { ENTITY_HANDLERS, SETTINGS_KEY, type EntityRecords } from './store/entity-handlers.js';
export { changesAfter, changeTime, feedHashAt, isEmptyReport, markReported, recordReport, unreportedReport, type ChangeWindow, type ReportOutcome } from './store/feed-store.js';
export { ReplicaRegistry, type ReplicaEntry } from './store/replica-registry.js';
export { applyEntries, applySnapshot, applySnapshotFile, ReplicationDataError, type AppliedSnapshot } from './store/replication.js';
export { newSnapshotPath, readSnapshotHeader, removeSnapshotFiles, writeSnapshotFile, type WrittenSnapshot } from './store/snapshot-file.js';
export { authenticate } from './auth/pipeline.js';
export { createAuthPorts } from './auth/ports.js';
export { BackendRegistry, createBackend, instrumentBackend } from './backends/registry.js';
export { PasswordChain } from './backends/chain.js';
export { resolveName } from './auth/realms.js';
export { accountBlock, initialLoginOpen, matchCode, singleFactorAllowed, type CodeMatch } from './auth/policy.js';
export { portalSignIn, type EnrolmentGrant, type PortalSignIn } from './auth/enrollment.js';
export type { AuthPorts, AuthRequest, AuthUser, ClientPolicy, Decision } from './auth/types.js';
export type { PasswordBackend, PasswordResult, PasswordSubject, TestableBackend, ConnectionReport } from './backends/backend.js';
export { LocalPasswordBackend, hashPassword, ARGON2_OPTIONS } from './backends/local.js';
export { LdapPasswordBackend, LDAP_SERVER_DOWN_MS, type LdapBackendOptions } from './backends/ldap.js';
export { LdapBackendError, type LdapFailureKind } from './backends/ldap-errors.js';
export { escapeFilterValue, escapeDnValue, userFilter, groupFilter, bindName, looksLikeDn } from './backends/ldap-filter.js';
export { mapGroups } from './backends/ldap-groups.js';
export {
  AD_BIND_SUBCODES,
  UAC,
  UAC_COMPUTED,
  adAccountState,
  adBindSubCode,
  mapAdBindFailure,
  nestedGroupFilter,
  parseFlags,
  type AdAccountState,
} from './backends/ldap-ad.js';
export { EntraPasswordBackend } from './backends/entra.js';
export { classifyAadsts, type EntraVerdict } from './backends/entra-errors.js';
export { parseSecret, generateSecret, toBase32, fromBase32 } from './otp/secret.js';
export { verifyCode, findConsecutive, codeAt, timeStep, type OtpToken, type OtpCheck } from './otp/verify.js';
export { provisioningUri } from './otp/uri.js';
export { loadDictionary, Dictionary, type AttributeDefinition } from './radius/dictionary.js';
export { parseRequest, type RadiusRequest } from './radius/packet.js';
export { buildResponse } from './radius/response.js';
export { decodeUserPassword, encodeUserPassword, verifyMessageAuthenticator } from './radius/authenticators.js';
export { ATTR, CODE } from './radius/constants.js';
export { OpsServer, OpsServerError, closeHttpServers, type OpsServerOptions, type OpsEndpoint } from './ops/ops-server.js';
export { RadiusWorkers, type RadiusWorkersStatus } from './workers/radius-workers.js';
export { RadiusService } from './radius/radius-service.js';
export { applySnapshotInThread, commitImportInThread, stopStoreJobs, type StoreJobRun } from './workers/store-job.js';
export { evaluateReadiness, readinessStatus, summarizeChecks, storeCheck, radiusCheck, type CheckResult, type HealthCheck, type ReadinessReport } from './ops/health.js';
export { clusterCertificates, readCertificateExpiries, type WatchedCertificate } from './ops/certificates.js';
export { openNodeLogging, type NodeLogging, type NodeLoggingOptions } from './log/node-logger.js';
export { SyslogTransport, SyslogConfigError, type SyslogStatus, type SyslogTransportOptions } from './log/syslog-transport.js';
export { formatSyslogMessage, octetCounted, truncateUtf8, MAX_SYSLOG_MESSAGE_BYTES } from './log/syslog-format.js';
export { sealBackup, openBackup, readBackupHeader, readBackupStart, checkPassphraseStrength, BackupFileError, MIN_PASSPHRASE_LENGTH, type BackupHeader } from './backup/backup-file.js';
export { writeBackup, restoreBackup, keyId, BackupError, RestoreError, type RestoreOptions, type RestoreResult } from './backup/node-backup.js';
export type { BackupManifest } from './backup/archive.js';
export type { ReplicasTable, AdminAuditTable } from './store/schema.js';
export type { AuthLogTable } from './store/state-schema.js';
