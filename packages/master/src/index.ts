export * from './cluster-ca.js';
export * from './cluster-service.js';
export { ReplicationServer } from './replication/server.js';
export * from './cluster-status.js';
export { AdminServer } from './admin/server.js';
export {
  CERTIFICATE_WARNING_DAYS,
  adminCertificateFiles,
  currentAdminCertificate,
  ensureAdminCertificate,
  replaceAdminCertificate,
  type CertificateInfo,
} from './admin/certificate.js';
export { EnrollmentServer } from './enrollment/server.js';
export { createNotifier, ChannelNotifier, type NotifyChannel } from './notify/index.js';
