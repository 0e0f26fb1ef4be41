import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { CLI_ACTOR, ClusterFiles, Store, recordAdminAction, type Logger } from '@otpgate/core';
import { formatTime } from '@otpgate/shared';
import { cliLogger, loadConfig, withAdmin, type GlobalOptions } from '../context.js';
import { printJson, table } from '../output.js';
import { collect } from './options.js';
import { loadMaster, loadReplica } from '../lazy.js';

export function registerClusterCommands(program: Command, globals: () => GlobalOptions): void {
  const cluster = program.command('cluster').description('master/replica cluster: certificates, replicas, status');

  cluster
    .command('init')
    .description('on the master: make the cluster CA, the replication API certificate and the feed-signing key')
    .option('--host <name>', 'a host name or address replicas use to reach this master (repeat for more)', collect)
    .option('--url <url>', 'the master URL given to replicas (default https://FIRST-HOST:PORT)')
    .action(async (o: { host?: string[]; url?: string }) => {
      await withAdmin(globals(), async ({ config, store, logger }) => {
        const port = config.cluster.listen[0]?.port ?? 8444;
        const { url, hosts } = await (await loadMaster()).initCluster(store, new ClusterFiles(store.dataDir), { hosts: o.host, url: o.url, port });
        recordAdminAction({ logger, store }, CLI_ACTOR, 'cluster.init', url, { details: { hosts } });
        console.log(`cluster initialised: replicas will connect to ${url} (certificate for ${hosts.join(', ')})`);
        console.log('next: otpgate cluster add-replica NAME, copy the bundle to the replica, restart "otpgate serve" here');
      });
    });

  cluster
    .command('add-replica <name>')
    .description('on the master: enrol a replica; writes its bundle (certificate, key, CA, master URL, feed key)')
    .option('-o, --out <file>', 'where to write the bundle (default NAME.otpgate-replica.json)')
    .action(async (name: string, o: { out?: string }) => {
      await withAdmin(globals(), async ({ store, logger }) => {
        const bundle = await (await loadMaster()).addReplica(store, new ClusterFiles(store.dataDir), name);
        const out = resolve(o.out ?? `${name}.otpgate-replica.json`);
        writeFileSync(out, JSON.stringify(bundle, null, 2) + '\n', { mode: 0o600 });
        recordAdminAction({ logger, store }, CLI_ACTOR, 'cluster.add-replica', name);
        console.log(`replica ${name} enrolled; bundle written to ${out}`);
        console.log('It holds the replica\'s private key: copy it securely, then on the replica: otpgate replica join BUNDLE && otpgate serve');
      });
    });

  cluster
    .command('remove-replica <name>')
    .description('on the master: revoke a replica; its certificate is refused from now on')
    .action(async (name: string) => {
      await withAdmin(globals(), async ({ store, logger }) => {
        (await loadMaster()).removeReplica(store, name);
        recordAdminAction({ logger, store }, CLI_ACTOR, 'cluster.remove-replica', name);
        console.log(`replica ${name} removed`);
      });
    });

  cluster
    .command('status')
    .description('replication state: on the master every replica, on a replica itself')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }) => {
      await withAdmin(globals(), async ({ config, store }) => {
        if (store.role === 'replica') {
          const s = (await loadReplica()).replicaSelfStatus(store, config.cluster);
          if (o.json) return printJson(s);
          console.log(
            table(
              ['FIELD', 'VALUE'],
              [
                ['role', `replica ${s.name ?? ''}`],
                ['master', s.master_url],
                ['applied change', s.applied_seq],
                ['master at', s.master_head_seq],
                ['health', `${s.healthy ? 'ok' : s.ready ? 'DEGRADED' : 'NOT READY'}: ${s.health_detail}`],
                ['lag (changes)', s.lag_entries],
                ['lag (seconds)', s.lag_seconds],
                ['last contact', s.last_contact_at === null ? 'never' : `${formatTime(s.last_contact_at)} (${s.seconds_since_contact}s ago)`],
                ['last error', s.last_error ?? '-'],
              ],
            ),
          );
          return;
        }
        const s = (await loadMaster()).masterStatus(store);
        if (o.json) return printJson(s);
        console.log(`master at change ${s.head_seq}${s.master_url ? `, replicas connect to ${s.master_url}` : ' (no cluster: run "otpgate cluster init")'}`);
        if (s.replicas.length === 0) return console.log('no replicas enrolled');
        console.log(
          table(
            ['REPLICA', 'HEALTH', 'ACKED', 'LAG', 'LAG S', 'LAST CONTACT', 'ADDRESS', 'CERT EXPIRES'],
            s.replicas.map((r) => [r.name, r.health, r.acked_seq, r.lag_entries, r.lag_seconds, formatTime(r.last_contact_at), r.address, formatTime(r.certificate_expires_at)]),
          ),
        );
      });
    });

  cluster
    .command('promote')
    .description('disaster recovery, on a replica: make it the master (new cluster CA and feed key; re-enrol the others)')
    .option('--host <name>', 'a host name or address replicas use to reach this node (repeat for more)', collect)
    .option('--url <url>', 'the master URL given to replicas')
    .action(async (o: { host?: string[]; url?: string }) => {
      const config = loadConfig(globals());
      const store = await Store.open(config.node.data_dir);
      try {
        const oldMaster = store.getMeta('master_url');
        const port = config.cluster.listen[0]?.port ?? 8444;
        const { url, setAside } = await (await loadMaster()).promoteToMaster(store, new ClusterFiles(store.dataDir), { hosts: o.host, url: o.url, port });
        const logger = cliLogger(config);
        reportSetAside(logger, setAside);
        recordAdminAction({ logger, store }, CLI_ACTOR, 'cluster.promote', url, { details: { old_master: oldMaster } });
        console.log(`this node is now the master (at change ${store.head().seq}); replicas connect to ${url}`);
        console.log('next: restart "otpgate serve" here; for every other node (the old master too, when it is back):');
        console.log('  here:  otpgate cluster add-replica NAME        there:  otpgate replica join BUNDLE --force && otpgate serve');
      } finally {
        store.close();
      }
    });

  cluster
    .command('renew-certificate')
    .description('on the master: a new replication API certificate from the cluster CA for the same names (replicas need nothing)')
    .action(async () => {
      await withAdmin(globals(), async ({ store, logger }) => {
        const { hosts, notAfter, setAside } = await (await loadMaster()).renewServerCertificate(store, new ClusterFiles(store.dataDir));
        recordAdminAction({ logger, store }, CLI_ACTOR, 'cluster.renew-certificate', hosts.join(','), { details: { expires_at: notAfter.toISOString() } });
        console.log(`replication API certificate renewed for ${hosts.join(', ')}, valid until ${formatTime(notAfter.getTime())}`);
        if (setAside) console.log(`the old certificate and key are in ${setAside}`);
        console.log('a running "otpgate serve" presents it within a few seconds; replicas trust the cluster CA and need nothing,');
        console.log('and refuse the old certificate once they have seen the new one');
      });
    });

  const replica = program.command('replica').description('this node as a replica');
  replica
    .command('join <bundle>')
    .description('make this node a replica of the master named in the bundle (from "otpgate cluster add-replica")')
    .option('--force', 'also when this node is a master with data of its own (it is replaced by the master\'s)')
    .action(async (bundlePath: string, o: { force?: boolean }) => {
      const config = loadConfig(globals());
      const bundle = (await loadReplica()).readBundle(resolve(bundlePath));
      const { store, setAside } = await (await loadReplica()).joinCluster(config.node.data_dir, bundle, { force: o.force });
      const logger = cliLogger(config);
      try {
        recordAdminAction({ logger, store }, CLI_ACTOR, 'replica.join', bundle.master_url, { details: { replica: bundle.replica_name, force: o.force === true } });
      } finally {
        store.close();
      }
      reportSetAside(logger, setAside);
      console.log(`this node is now replica ${bundle.replica_name} of ${bundle.master_url}`);
      console.log('next: otpgate serve (the first start copies the master\'s data); then delete the bundle file');
    });

  replica
    .command('resync')
    .description('take a fresh snapshot from the master (the running node does it within cluster.poll_seconds)')
    .option(
      '--allow-rollback',
      'also when it takes this replica back (a master restored from a backup): deleted users and old admin passwords return; once',
    )
    .action(async (o: { allowRollback?: boolean }) => {
      await withAdmin(globals(), async ({ store, logger }) => {
        (await loadReplica()).requestResync(store, { allowRollback: o.allowRollback });
        recordAdminAction({ logger, store }, CLI_ACTOR, 'replica.resync', store.getMeta('master_url') ?? '', { details: { allow_rollback: o.allowRollback === true } });
        console.log(
          o.allowRollback
            ? 'the next snapshot from the master is taken even if it is older than this replica\'s state (once)'
            : 'a fresh snapshot from the master is taken shortly (a rollback still needs --allow-rollback)',
        );
      });
    });
}

/** Say where the cluster files of a node's former role went (kept, never deleted: they may hold the only CA key). */
function reportSetAside(logger: Logger, folder: string | undefined): void {
  if (!folder) return;
  logger.info({ event: 'cluster-files-set-aside', folder }, `the cluster files of this node's previous role were moved to ${folder}`);
  console.log(`the cluster files of this node's previous role (keys, certificates) were moved to ${folder}; delete them once no longer needed`);
}
