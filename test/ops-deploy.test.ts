import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Metrics } from '@otpgate/core';
import { REPO_ROOT } from './helpers/paths.js';

const DEPLOY = join(REPO_ROOT, 'deploy');
const PROMTOOL = '/usr/bin/promtool';
const hasPromtool = existsSync(PROMTOOL);
const systemdAnalyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' }).status === 0;

function run(cmd: string, args: string[], cwd?: string): { code: number; output: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  return { code: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}

/** Every metric name a query could use: the registry's families, with the series a histogram adds. */
async function exportedNames(): Promise<Set<string>> {
  const metrics = new Metrics();
  const names = new Set<string>(['up']); // Prometheus's own, per target
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${m.name}${suffix}`);
    if (String(m.type) === 'summary') for (const suffix of ['_sum', '_count']) names.add(`${m.name}${suffix}`);
  }
  return names;
}

/** Metric names in PromQL (or any) text: otpgate's, the process and Node.js ones, and `up{...}`. */
function namesIn(text: string): Set<string> {
  return new Set([...text.matchAll(/\b(?:otpgate|process|nodejs)_[a-z0-9_]+\b|\bup(?=\{)/g)].map((m) => m[0]));
}

function dashboardExpressions(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => dashboardExpressions(n, out));
  else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if ((k === 'expr' || k === 'definition') && typeof v === 'string') out.push(v);
      else dashboardExpressions(v, out);
    }
  }
  return out;
}

describe('deploy/: Prometheus configuration, alert rules and their tests', () => {
  it.skipIf(!hasPromtool)('promtool accepts the scrape config and the rules, and the rule unit tests pass', () => {
    const config = run(PROMTOOL, ['check', 'config', 'prometheus.yml'], join(DEPLOY, 'prometheus'));
    expect(config.code, config.output).toBe(0);
    const rules = run(PROMTOOL, ['check', 'rules', 'otpgate-rules.yml'], join(DEPLOY, 'prometheus'));
    expect(rules.code, rules.output).toBe(0);
    expect(rules.output).toMatch(/SUCCESS: \d+ rules found/);
    const tests = run(PROMTOOL, ['test', 'rules', 'otpgate-rules.test.yml'], join(DEPLOY, 'prometheus'));
    expect(tests.code, tests.output).toBe(0);
    expect(tests.output).toContain('SUCCESS');
  });

  it('has the alerts the operators asked for', () => {
    const rules = readFileSync(join(DEPLOY, 'prometheus', 'otpgate-rules.yml'), 'utf8');
    const alerts = [...rules.matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
    expect(alerts).toEqual(
      expect.arrayContaining([
        'OtpgateNodeDown',
        'OtpgateReplicaDegraded',
        'OtpgateStoreNotWritable',
        'OtpgateRejectRatioSpike',
        'OtpgateBackendErrors',
        'OtpgateFeedVerificationFailures',
        'OtpgateCertificateExpiresSoon',
      ]),
    );
    const tests = readFileSync(join(DEPLOY, 'prometheus', 'otpgate-rules.test.yml'), 'utf8');
    for (const alert of alerts) expect(tests, `a promtool test for ${alert}`).toContain(`alertname: ${alert}`);
  });

  it('names only metrics the code exports, in the rules and in the Grafana dashboard', async () => {
    const exported = await exportedNames();
    // the whole rules files, annotations and test series included: a name in a description must be real too
    const rules = ['otpgate-rules.yml', 'otpgate-rules.test.yml'].map((f) => readFileSync(join(DEPLOY, 'prometheus', f), 'utf8'));
    const dashboard = JSON.parse(readFileSync(join(DEPLOY, 'grafana', 'otpgate.json'), 'utf8')) as unknown;
    const queries = dashboardExpressions(dashboard);
    expect(queries.length).toBeGreaterThanOrEqual(20);
    const used = new Map<string, string[]>();
    for (const [where, texts] of [
      ['otpgate-rules', rules],
      ['otpgate.json', queries],
    ] as const) {
      for (const t of texts) for (const n of namesIn(t)) used.set(n, [...(used.get(n) ?? []), where]);
    }
    const unknown = [...used.keys()].filter((n) => !exported.has(n));
    expect(unknown, `not exported by otpgate: ${unknown.map((n) => `${n} (${used.get(n)!.join(', ')})`).join('; ')}`).toEqual([]);
    // and the names were really found: every family of the issue's list is on the dashboard
    for (const n of [
      'otpgate_radius_requests_total',
      'otpgate_radius_rejects_total',
      'otpgate_radius_request_duration_seconds_bucket',
      'otpgate_radius_duplicate_answers_total',
      'otpgate_radius_dropped_total',
      'otpgate_backend_requests_total',
      'otpgate_backend_request_duration_seconds_bucket',
      'otpgate_lockouts_total',
      'otpgate_replication_applied_seq',
      'otpgate_replication_lag_entries',
      'otpgate_replication_lag_seconds',
      'otpgate_replication_feed_failures_total',
      'otpgate_replication_seconds_since_contact',
      'otpgate_replication_degraded',
      'otpgate_store_writable',
      'otpgate_cluster_replicas_connected',
      'otpgate_cluster_replica_acked_seq',
      'otpgate_node_info',
      'otpgate_certificate_expiry_timestamp_seconds',
      'process_resident_memory_bytes',
    ]) {
      expect(used.get(n), n).toContain('otpgate.json');
    }
  });

  it('the check catches a query naming a metric that does not exist', async () => {
    const exported = await exportedNames();
    const names = namesIn('sum(rate(otpgate_radius_requets_total[5m])) / on() up{job="otpgate"} and label_values(otpgate_node_info, node)');
    expect([...names].sort()).toEqual(['otpgate_node_info', 'otpgate_radius_requets_total', 'up']);
    expect([...names].filter((n) => !exported.has(n))).toEqual(['otpgate_radius_requets_total']);
  });
});

describe('deploy/systemd: hardened units for master and replica', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'otpgate-units-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  const units = readdirSync(join(DEPLOY, 'systemd')).filter((f) => f.endsWith('.service'));

  it('has a unit for the master and one for the replica, with the hardening settings', () => {
    expect(units.sort()).toEqual(['otpgate-master.service', 'otpgate-replica.service']);
    for (const unit of units) {
      const text = readFileSync(join(DEPLOY, 'systemd', unit), 'utf8');
      for (const line of [
        'StateDirectory=otpgate',
        'ProtectSystem=strict',
        'ProtectHome=yes',
        'PrivateTmp=yes',
        'NoNewPrivileges=yes',
        'CapabilityBoundingSet=CAP_NET_BIND_SERVICE',
        'AmbientCapabilities=CAP_NET_BIND_SERVICE',
        'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX',
        'SystemCallFilter=@system-service',
        'Restart=on-failure',
        'StartLimitIntervalSec=0',
      ]) {
        expect(text.split('\n'), `${unit}: ${line}`).toContain(line);
      }
      expect(text).toMatch(/^User=otpgate$/m);
      expect(text).not.toMatch(/^MemoryDenyWriteExecute=yes/m); // V8 needs W+X pages
    }
  });

  it.runIf(systemdAnalyze)('passes systemd-analyze verify', () => {
    // verify also checks that ExecStart's program exists; where node is not /usr/bin/node, check a copy pointing at this one
    const dir = join(scratch, 'units');
    execFileSync('mkdir', ['-p', dir]);
    for (const unit of units) {
      const text = readFileSync(join(DEPLOY, 'systemd', unit), 'utf8');
      if (existsSync('/usr/bin/node')) copyFileSync(join(DEPLOY, 'systemd', unit), join(dir, unit));
      else writeFileSync(join(dir, unit), text.replace('ExecStart=/usr/bin/node ', `ExecStart=${process.execPath} `));
    }
    const r = run('systemd-analyze', ['verify', ...units.map((u) => join(dir, u))]);
    // other units installed on the machine may draw warnings of their own; ours must draw none
    const ours = r.output.split('\n').filter((l) => l.includes('otpgate'));
    expect(ours, r.output).toEqual([]);
    expect(r.code, r.output).toBe(0);
  });

  it.skipIf(systemdAnalyze)('systemd-analyze is not installed: the units are not verified here', () => {
    console.log('skipped: systemd-analyze not found (install systemd to verify deploy/systemd/*.service)');
  });
});

describe('deploy/clients: two servers, the master first', () => {
  it('every example names the primary and the secondary server and links to the timeout advice', () => {
    const dir = join(DEPLOY, 'clients');
    const files = readdirSync(dir).filter((f) => f !== 'README.md');
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const kind of ['pam_radius_auth', 'strongswan', 'openvpn', 'fortigate', 'cisco-asa']) {
      expect(files.some((f) => f.startsWith(kind))).toBe(true);
    }
    for (const f of files.filter((f) => f.endsWith('.conf') && !f.includes('swanctl') && !f.startsWith('openvpn'))) {
      const text = readFileSync(join(dir, f), 'utf8');
      expect(text, f).toContain('192.0.2.10');
      expect(text, f).toContain('192.0.2.11');
      expect(text.indexOf('192.0.2.10'), f).toBeLessThan(text.indexOf('192.0.2.11'));
    }
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    expect(readme).toContain('no-require-message-authenticator');
    expect(readme).toMatch(/timeout x tries on the primary/);
  });
});
