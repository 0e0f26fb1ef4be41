import { z } from 'zod';

/**
 * The one file an admin copies from the master to a new replica (`otpgate cluster add-replica NAME`). It holds the
 * replica's client certificate and private key: copy it over a secure channel and delete it after joining.
 */
export const replicaBundleSchema = z.strictObject({
  format: z.literal('otpgate-replica-bundle/1'),
  cluster_id: z.string().min(1),
  replica_name: z.string().min(1),
  /** https://host:port of the master's replication API. */
  master_url: z.url({ protocol: /^https$/ }),
  ca_certificate: z.string().includes('BEGIN CERTIFICATE'),
  client_certificate: z.string().includes('BEGIN CERTIFICATE'),
  client_key: z.string().includes('PRIVATE KEY'),
  /** The Ed25519 public key every feed response must be signed with (JWK). */
  feed_public_key: z.strictObject({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: z.string() }),
});
export type ReplicaBundle = z.output<typeof replicaBundleSchema>;
