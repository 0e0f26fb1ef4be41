import { hostname } from 'node:os';
import type { NodeConfig } from '@otpgate/shared';

export const VERSION = '0.1.0';

/** The node's name in logs, metrics and cluster status: node.name, or the host name. */
export function nodeName(config: NodeConfig): string {
  return config.node.name ?? hostname();
}
