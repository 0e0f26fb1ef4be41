/** The public face of @otpgate/shared: what core, master, replica, cli, the benches and the tests use. */
export {
  canonicalJson,
  GENESIS_HASH,
  hashEntry,
  type ChangeEntry,
  type ChangeOp,
  type Entity,
} from './change-entry.js';
export { replicaBundleSchema, type ReplicaBundle } from './cluster-bundle.js';
export { OIDC_MATCH_CLAIMS, oidcRedirectUri, type OidcMatchClaim, type OidcProviderConfig } from './oidc-config.js';
export {
  ADMIN_ALLOW_DEFAULT,
  ConfigFileError,
  loadNodeConfig,
  parseNodeConfig,
  SYSLOG_FACILITIES,
  WEBHOOK_SECRET_PATTERN,
  type NodeConfig,
  type NotifyConfig,
  type SyslogConfig,
  type SyslogFacility,
} from './config.js';
export {
  certificateErrorCode,
  ClusterKeyError,
  ConflictError,
  EnrolmentRefusedError,
  ERROR_CODES,
  errorCode,
  errorMessage,
  errorStack,
  InvalidInputError,
  isCertificateError,
  isErrorCode,
  isUntrustedIssuer,
  NotFoundError,
  OtpgateError,
  ReadOnlyReplicaError,
  type ErrorCode,
} from './errors.js';
export {
  AUTH_BUCKET_MS,
  authBucketCountSchema,
  changeBatchSchema,
  claimAnswerSchema,
  FEED_FORMAT,
  FEED_NONCE,
  FEED_SIGNATURE_HEADER,
  feedDigest,
  FeedError,
  importFeedKey,
  newFeedNonce,
  parseFeedBody,
  signFeed,
  SNAPSHOT_ENTITIES,
  stepClaimSchema,
  stepReportSchema,
  verifyChain,
  verifyFeed,
  verifyFeedDigest,
  type AuthBucketCount,
  type ChangeBatch,
  type ClaimAnswer,
  type FeedBinding,
  type FeedFailure,
  type FeedKey,
  type FeedHead,
  type StepReport,
} from './feed.js';
export {
  addressBytes,
  cidrContains,
  CidrList,
  formatIpv6,
  ipv6Bytes,
  normalizeAddress,
  parseCidr,
  type Cidr,
} from './ip-address.js';
export { formatListenAddress, type ListenAddress } from './listen-address.js';
export { formatTime } from './time-format.js';
export { REJECT_REASON_TEXT, REJECT_REASONS, type AuthResult, type RejectReason } from './reasons.js';
export {
  adminRecordSchema,
  clientRecordSchema,
  groupRecordSchema,
  hardwareTokenRecordSchema,
  lockoutRecordSchema,
  tokenRecordSchema,
  tokenStateRecordSchema,
  userRecordSchema,
  type AdminRecord,
  type ClientRecord,
  type GroupRecord,
  type HardwareTokenRecord,
  type LockoutRecord,
  type OtpKind,
  type ReplyAttribute,
  type TokenRecord,
  type TokenStateRecord,
  type UserRecord,
} from './records.js';
export type { ReplicaSelfStatus, ReplicaSyncState } from './replica-status.js';
export { seal, SEAL_KEY_BYTES, SealError, unseal } from './sealing.js';
export { setAsideFiles } from './set-aside.js';
export {
  AUTH_MODES,
  backendSchema,
  defaultUserFilter,
  entraBackendSchema,
  isDefaultUserFilter,
  ldapBackendSchema,
  maskSettingsSecrets,
  SECRET_MASK,
  SETTINGS_SECRET_FIELDS,
  settingsSchema,
  type AccountList,
  type AuthMode,
  type BackendSettings,
  type EntraBackendSettings,
  type LdapBackendSettings,
  type OtpAlgorithm,
  type RealmSettings,
  type Settings,
  type SettingsInput,
} from './settings.js';
export {
  LineSplitter,
  SNAPSHOT_MEDIA_TYPE,
  snapshotEndLine,
  snapshotHeaderLine,
  SnapshotReader,
  snapshotRecordLine,
  type SnapshotCounts,
  type SnapshotEntity,
  type SnapshotHeader,
  type SnapshotRecord,
} from './snapshot-format.js';
export { parseWith, problemsFromZod, ValidationError, type ValidationProblem } from './validation.js';
export {
  VPN_CREDENTIAL_USES,
  vpnCredentialAnswerSchema,
  vpnCredentialClaimSchema,
  type VpnCredentialAnswer,
  type VpnCredentialClaim,
  type VpnCredentialUse,
} from './vpn-credential.js';
export { PASSKEY_TRANSPORTS, passkeyRecordSchema, type PasskeyRecord } from './passkey.js';
export type { AccountAlert, Notice, Notifier, PushNotice } from './notification.js';
export { VPN_PROFILE_TYPES, vpnProfileInputSchema, type VpnProfile, type VpnProfileInput, type VpnProfileType } from './vpn-profile.js';
export {
  MAX_PUSH_DECISIONS,
  PUSH_ID,
  PUSH_NUMBER,
  PUSH_STATUSES,
  pushCreateAnswerSchema,
  pushCreateSchema,
  pushDecisionsAnswerSchema,
  pushDecisionsQuerySchema,
  type PushCreate,
  type PushCreateAnswer,
  type PushDecision,
  type PushDecisionsAnswer,
  type PushDecisionsQuery,
  type PushStatus,
} from './push.js';
