/** What a RADIUS worker thread and the node's main thread say to each other (structured-clone data only). */
import type { ListenAddress, NodeConfig } from '@otpgate/shared';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';

export interface RadiusThreadData {
  config: NodeConfig;
  /** 1-based, for logs. */
  index: number;
  /** Where to listen: the config's addresses for the first worker, then the ports it was given (port 0). */
  listen: ListenAddress[];
}

export type ThreadMetrics = MetricObjectWithValues<MetricValue<string>>[];

export type FromThread =
  /** Whole JSON lines, each newline-terminated. */
  | { type: 'log'; text: string }
  | { type: 'listening'; addresses: ListenAddress[]; clients: number }
  | { type: 'store'; problem: { reason: string; since: number } | undefined }
  | { type: 'metrics'; id: number; metrics: ThreadMetrics }
  | { type: 'failed'; message: string }
  | { type: 'stopped' };

export type ToThread = { type: 'metrics'; id: number } | { type: 'stop'; graceMs: number };
