import type { Command } from 'commander';
import { VERSION, evaluateReadiness, nodeName, readinessStatus, storeCheck, summarizeChecks, type CheckResult } from '@otpgate/core';
import type { CertificateInfo } from '@otpgate/master';
import { formatTime } from '@otpgate/shared';
import { withAdmin, type GlobalOptions } from '../context.js';
import { printJson, table } from '../output.js';
import { probeLocalNode } from '../node-probe.js';
import { expiryWarning } from '../admin-certificate.js';
import { loadMaster, loadReplica } from '../lazy.js';

export function registerStatusCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('status')
    .description('is this node ready to answer RADIUS, and is it degraded? what /readyz says, from the store and the running node; on the master also the cluster (exit 1 when not ready; degraded is still ready)')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }) => {
      const [{ CERTIFICATE_WARNING_DAYS, currentAdminCertificate, masterStatus }, { replicaStatus, replicationCheck }] = await Promise.all([loadMaster(), loadReplica()]);
      await withAdmin(globals(), async ({ config, store }) => {
        const role = store.role;
        const local = [storeCheck(store)];
        if (role === 'replica') local.push(replicationCheck(store, config.cluster));
        const { checks } = evaluateReadiness(local);
        // RADIUS being bound is known only to the serving process: ask its /readyz
        const probe = await probeLocalNode(config, store);
        const radius: CheckResult = probe.reachable
          ? (probe.report.checks.radius ?? { ok: false, detail: 'the node did not report RADIUS' })
          : { ok: false, detail: `the serving node could not be asked: ${probe.error}` };
        // whether the store takes writes is known to the serving process (its writes fail, or work again): ask it too
        const served = probe.reachable ? probe.report.checks.store : undefined;
        const storeResult = checks.store!.ok && served && !served.ok ? served : checks.store!;
        const all: Record<string, CheckResult> = { store: storeResult, radius, ...(checks.replication ? { replication: checks.replication } : {}) };
        const report = summarizeChecks(all);
        const ready = report.ready;
        const cluster = role === 'master' ? masterStatus(store) : undefined;
        const replication = role === 'replica' ? replicaStatus(store) : undefined;
        const certificate = config.admin.enabled ? adminCertificateStatus(currentAdminCertificate(store.dataDir), CERTIFICATE_WARNING_DAYS) : undefined;
        const status = {
          node: nodeName(config),
          role,
          version: VERSION,
          data_dir: store.dataDir,
          head_seq: store.head().seq,
          ready,
          status: readinessStatus(report),
          degraded: report.degraded,
          checks: all,
          serving: probe.reachable ? { reachable: true, url: probe.url, http_status: probe.status } : { reachable: false, url: probe.url, error: probe.error },
          ...(cluster ? { cluster } : {}),
          ...(replication ? { replication } : {}),
          ...(certificate !== undefined ? { admin_certificate: certificate } : {}),
        };
        if (!ready) process.exitCode = 1;
        if (o.json) return printJson(status);
        console.log(`${status.node}: ${role}, otpgate ${VERSION}, ${{ ready: 'READY', degraded: 'READY, DEGRADED', 'not-ready': 'NOT READY' }[status.status]}`);
        console.log(
          table(
            ['CHECK', 'OK', 'DETAIL'],
            Object.entries(all).map(([name, c]) => [name, c.ok ? (c.degraded ? 'degraded' : 'yes') : 'NO', c.detail]),
          ),
        );
        console.log(`data ${store.dataDir}, at change ${status.head_seq}; metrics ${probe.url ?? '(not known)'}`);
        if (certificate === null) console.log('admin UI certificate: none yet (made by "otpgate init" or the first start)');
        else if (certificate) {
          console.log(`admin UI certificate: ${certificate.subject}, valid until ${certificate.valid_to} (${certificate.days_left} days)`);
          if (certificate.warning) console.log(certificate.warning);
        }
        if (!cluster) return;
        if (cluster.master_url === null) return console.log('no cluster (a standalone master)');
        if (cluster.replicas.length === 0) return console.log(`cluster: replicas connect to ${cluster.master_url}; none enrolled`);
        console.log(`cluster: replicas connect to ${cluster.master_url}`);
        console.log(
          table(
            ['REPLICA', 'HEALTH', 'ACKED', 'LAG', 'LAG S', 'LAST CONTACT', 'CERT EXPIRES'],
            cluster.replicas.map((r) => [r.name, r.health, r.acked_seq, r.lag_entries, r.lag_seconds, formatTime(r.last_contact_at), formatTime(r.certificate_expires_at)]),
          ),
        );
      });
    });
}

/** The admin UI certificate's subject and expiry (null when not made yet), with the warning when it runs out soon. */
function adminCertificateStatus(info: CertificateInfo | undefined, warningDays: number) {
  if (!info) return null;
  return { subject: info.subject, names: info.names, valid_to: formatTime(info.validTo), days_left: info.daysLeft, warning: expiryWarning(info, warningDays) ?? null };
}
