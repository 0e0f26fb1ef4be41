/** What a replica knows of its own replication, as `otpgate status`, `cluster status` and its admin page show it. */
export interface ReplicaSelfStatus {
  role: 'replica';
  name: string | null;
  master_url: string | null;
  applied_seq: number;
  master_head_seq: number | null;
  lag_entries: number | null;
  last_contact_at: number | null;
  seconds_since_contact: number | null;
  last_error: string | null;
}

/** The same with the readiness verdict, for the replica's read-only admin page. */
export interface ReplicaView extends ReplicaSelfStatus {
  healthy: boolean;
  health_detail: string;
}
