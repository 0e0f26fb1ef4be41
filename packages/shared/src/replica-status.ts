/** What a replica's store says of its own replication (the serving process records it; any process reads it). */
export interface ReplicaSyncState {
  role: 'replica';
  name: string | null;
  master_url: string | null;
  applied_seq: number;
  master_head_seq: number | null;
  lag_entries: number | null;
  /** Age of the oldest change not yet applied at the last contact (0 when caught up). */
  lag_seconds: number | null;
  last_contact_at: number | null;
  seconds_since_contact: number | null;
  last_error: string | null;
}

/** The same with the readiness verdict (against the lag budget), as `cluster status` and the admin page show it. */
export interface ReplicaSelfStatus extends ReplicaSyncState {
  healthy: boolean;
  health_detail: string;
}
