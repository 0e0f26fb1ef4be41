/**
 * The public face of @otpgate/core: what master, replica, cli and the benches use, and nothing else. Core's own tests
 * import its modules by relative path; what only the tests of other packages need is in @otpgate/core/testing.
 */

// The serving node and its parts: the composition roots (otpgate serve, the CLI) wire these.
export { BoundedMap, type MapMeter } from './bounded-map.js';
export { openNodeLogging } from './log/node-logger.js';
export { createLogger, LogLimiter, type Logger } from './logger.js';
export { Metrics } from './metrics.js';
export { nodeName, VERSION } from './node-name.js';
export { OtpgateNode } from './node.js';
export { clusterCertificates, readCertificateExpiries } from './ops/certificates.js';
export {
  evaluateReadiness,
  radiusCheck,
  readinessStatus,
  storeCheck,
  summarizeChecks,
  type CheckResult,
  type HealthCheck,
  type ReadinessReport,
} from './ops/health.js';
export { OpsServer, type OpsEndpoint } from './ops/ops-server.js';
export { RadiusService } from './radius/radius-service.js';
export { applySnapshotInThread, commitImportInThread, stopStoreJobs, type StoreJobRun } from './workers/store-job.js';

// RADIUS and OTP, for the admin UI, the portal and the benches.
export { checkPasswordAndCode, portalSignIn, type EnrolmentGrant, type PasswordAndCode } from './auth/enrollment.js';
export { policyNote } from './auth/types.js';
export { VpnCredentialService, VPN_CREDENTIAL_MAX_SECONDS, type IssuedVpnCredential, type VpnCredentialIssuer, type VpnCredentialRequest } from './vpn/credential-service.js';
export { claimVpnCredential } from './vpn/credential-claim.js';
export { looksLikeVpnPassword, vpnPasswordHash } from './vpn/vpn-password.js';
export { VpnProfileService, type VpnProfileView } from './vpn/profile-service.js';
export { PushService, type PushDecisionInput, type PushServiceOptions } from './push/push-service.js';
export { PushTable, type PushRow } from './push/push-table.js';
export { claimPush, pushDecisions } from './push/push-claim.js';
export { HeldPushes, type HeldPush, type PushChannel, type PushOutcome } from './push/held-pushes.js';
export { localPushChannel } from './push/push-channels.js';
export { PasskeyService, MAX_PASSKEYS_PER_USER, type PasskeyView } from './passkeys/passkey-service.js';
export { OidcIdentityService, OIDC_SUBJECT_MAX, type OidcIdentityOutcome, type OidcIdentityView } from './oidc/identity-service.js';
export { authenticate } from './auth/pipeline.js';
export { matchCode, passkeyRequired, passkeySignInMode, type PasskeySignInMode } from './auth/policy.js';
export { createAuthPorts } from './auth/ports.js';
export { ARGON2_OPTIONS } from './backends/local.js';
export { BackendRegistry } from './backends/registry.js';
export { fromBase32, generateSecret, toBase32 } from './otp/secret.js';
export { provisioningUri } from './otp/uri.js';
export { codeAt, verifyCode } from './otp/verify.js';
export { encodeUserPassword, verifyMessageAuthenticator } from './radius/authenticators.js';
export { ATTR, CODE } from './radius/constants.js';
export { Dictionary, loadDictionary } from './radius/dictionary.js';
export { parseRequest } from './radius/packet.js';

// The admin services: every change an admin makes, from the CLI or the web.
export { checkPassphraseStrength, readBackupHeader, readBackupStart } from './backup/backup-file.js';
export { restoreBackup, writeBackup } from './backup/node-backup.js';
export type { ConfigImportPreview, OpenedConfig } from './config-transfer/config-transfer-service.js';
export { CONFIG_MIN_PASSPHRASE_LENGTH } from './config-transfer/envelope.js';
export type { EntityChanges } from './config-transfer/import-plan.js';
export type { ImportInput } from './imports/import-service.js';
export { pskFromHex } from './imports/psk-key.js';
export type { ImportFormat, ImportPreview, ImportResult, ImportRow, RowVerdict } from './imports/types.js';
export { usersCsvChunks } from './imports/users-export.js';
export { AdminAuditService, scheduleAdminAuditRetention, type AdminAuditEntry } from './services/admin-audit.js';
export { adminStamp, BUILTIN_ADMIN } from './services/admins.js';
export type { AuthTimeline } from './services/auth-log.js';
export { RECOMMENDED_CLIENT_SECRET_LENGTH } from './services/clients.js';
export {
  CLI_ACTOR,
  parseAttributeAssignment,
  parseAttributeLines,
  recordAdminAction,
  type Actor,
} from './services/context.js';
export { createServices, type Services } from './services/index.js';
export type { NewToken, TokenParameters } from './services/tokens.js';
export type { UserListQuery } from './services/users.js';

// The store: the only way master, replica and cli reach the databases.
export { ROLLUP_CHUNK, rollUpAuthLog, TIMELINE_MS } from './store/auth-buckets.js';
export { AuthRepository } from './store/auth-repository.js';
export { logBase, type ChangeHead } from './store/change-log.js';
export { CLUSTER_FILES, ClusterFiles, ClusterSetupError } from './store/cluster-files.js';
export {
  changesAfter,
  changeTime,
  feedHashAt,
  isEmptyReport,
  markReported,
  recordReport,
  unreportedReport,
} from './store/feed-store.js';
export {
  compactChangeLog,
  COMPACTION_KEEP_TAIL,
  COMPACTION_MIN_ENTRIES,
  compactionFloor,
  scheduleLogCompaction,
} from './store/log-compaction.js';
export { ReplicaRegistry, type ReplicaEntry } from './store/replica-registry.js';
export { applyEntries, ReplicationDataError, type AppliedSnapshot } from './store/replication.js';
export type { RetentionJob } from './store/retention.js';
export {
  newSnapshotPath,
  readSnapshotHeader,
  removeSnapshotFiles,
  writeSnapshotFile,
  type WrittenSnapshot,
} from './store/snapshot-file.js';
export { masterTlsOptions, NO_MASTER_CERTIFICATE } from './cluster/master-tls.js';
export { isLockBusy, StoreBusyError } from './store/database.js';
export { StoreHealth, storeWriteProblem } from './store/store-health.js';
export { DATA_FILES, Store } from './store/store.js';
export { claimStep, publishSteps, USE_STEP_SQL } from './store/token-state.js';
