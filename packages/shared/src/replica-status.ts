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

/**
 * The same with the verdict (against cluster.lag_budget_seconds and cluster.max_staleness_seconds), as `cluster
 * status` and the admin page show it.
 */
export interface ReplicaSelfStatus extends ReplicaSyncState {
  /** In step with the master: ready and not degraded. */
  healthy: boolean;
  /** Should get RADIUS traffic: synced once, and its copy of the master's state no older than the staleness limit. */
  ready: boolean;
  /** Ready, but out of step with the master beyond the lag budget: answering from its last good state. */
  degraded: boolean;
  health_detail: string;
}
