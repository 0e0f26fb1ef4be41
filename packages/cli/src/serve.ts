import type { NodeConfig } from '@otpgate/shared';
import { ClusterFiles, OtpgateNode } from '@otpgate/core';
import { ReplicationServer, isClusterInitialised } from '@otpgate/master';
import { FeedClient, StepReporter } from '@otpgate/replica';

interface Part {
  stop(): Promise<void>;
}

/**
 * `otpgate serve`, the composition root of a running node: RADIUS on every node; on a master with a cluster the
 * replication API; on a replica the feed client and the step reporter. A replica that never synced waits for its
 * first snapshot before answering RADIUS, so it never rejects users it simply does not know yet.
 */
export async function serve(config: NodeConfig): Promise<void> {
  const node = await OtpgateNode.open(config);
  const parts: Part[] = [];
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      for (const part of parts.reverse()) await part.stop().catch(() => undefined);
      await node.stop();
    })());
  const stopped = new Promise<void>((resolve) => {
    const onSignal = (signal: string) => {
      node.logger.info({ signal }, 'stopping');
      void stopAll().then(resolve);
    };
    process.once('SIGINT', () => onSignal('SIGINT'));
    process.once('SIGTERM', () => onSignal('SIGTERM'));
  });

  try {
    if (node.store.role === 'replica') {
      const feed = await FeedClient.create(node.store, config, node.logger, node.metrics);
      parts.push(feed);
      feed.start();
      if (!feed.synced) {
        node.logger.info({ master: feed.masterUrl }, 'waiting for the first snapshot from the master before serving RADIUS');
        await Promise.race([feed.firstSync(), stopped]);
        if (stopping) return;
      }
      const reporter = new StepReporter(node.store, config, node.logger);
      parts.push(reporter);
      reporter.start();
    }
    await node.start();
    if (node.store.role === 'master' && isClusterInitialised(new ClusterFiles(node.store.dataDir))) {
      const replication = await ReplicationServer.create({ store: node.store, config, logger: node.logger, metrics: node.metrics });
      parts.push(replication);
      await replication.start();
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  await stopped;
}
