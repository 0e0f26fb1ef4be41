import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigFileError, ValidationError, errorMessage, loadNodeConfig, parseNodeConfig, type ValidationProblem } from '@otpgate/shared';
import { parseListenAddress } from '../src/listen-address.js';

const BASE = '/etc/otpgate';

function problems(text: string): ValidationProblem[] {
  try {
    parseNodeConfig(text, 'otpgate.yaml', BASE);
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).source).toBe('otpgate.yaml');
    return (err as ValidationError).problems;
  }
  throw new Error('config was accepted');
}

describe('parseNodeConfig', () => {
  it('gives a working node from an empty file', () => {
    for (const empty of ['', '\n', '# nothing yet\n', '{}']) {
      const c = parseNodeConfig(empty, 'otpgate.yaml', BASE);
      expect(c.node).toEqual({ data_dir: '/var/lib/otpgate' });
      expect(c.log).toEqual({ level: 'info', auth_log_days: 30, auth_log_max_rows: 5_000_000, admin_audit_days: 365, admin_audit_max_rows: 1_000_000 });
      expect(c.radius).toEqual({
        listen: [
          { host: '0.0.0.0', port: 1812, family: 4 },
          { host: '::', port: 1812, family: 6 },
        ],
        receive_buffer_bytes: 4 * 1024 * 1024,
        duplicate_cache_seconds: 5,
        unknown_client_log_interval_seconds: 60,
        dictionaries: [],
        user_cache_size: 50_000,
        max_held_pushes: 1000,
      });
    }
  });

  it('reports an unknown key as \'unknown setting "x"\' at its line', () => {
    expect(problems('log:\n  level: info\nnode:\n  data_dir: /srv/otpgate\n  colour: blue\n')).toEqual([
      { path: 'node', message: 'unknown setting "colour"', line: 5 },
    ]);
    expect(problems('log:\n  level: debug\n\ncolour: blue\n')).toEqual([{ path: '(top level)', message: 'unknown setting "colour"', line: 4 }]);
    expect(problems('radius:\n  listen: ["127.0.0.1:1812"]\n  lisen: ["127.0.0.1:1645"]\n')).toEqual([
      { path: 'radius', message: 'unknown setting "lisen"', line: 3 },
    ]);
  });

  it('names every bad listen address with its line', () => {
    const found = problems('radius:\n  listen:\n    - "127.0.0.1:1812"\n    - "localhost:1812"\n    - "[::1]:99999"\n    - "10.0.0.1:"\n    - "10.0.0.1:0x714"\n');
    expect(found).toEqual([
      { path: 'radius.listen[1]', message: '"localhost:1812": "localhost" is not an IPv4 or IPv6 address (write IPv6 as [addr]:port)', line: 4 },
      { path: 'radius.listen[2]', message: '"[::1]:99999": port must be 0-65535 (0: any free port)', line: 5 },
      { path: 'radius.listen[3]', message: '"10.0.0.1:": port must be 0-65535 (0: any free port)', line: 6 },
      { path: 'radius.listen[4]', message: '"10.0.0.1:0x714": port must be 0-65535 (0: any free port)', line: 7 },
    ]);
    expect(problems('radius:\n  listen: []\n')).toMatchObject([{ path: 'radius.listen', line: 2 }]);
  });

  it('takes IPv6 listen addresses in brackets, bare, and with port 0', () => {
    const c = parseNodeConfig('radius:\n  listen: ["[::]:1812", "[2001:db8::1]:0", "::1", "192.0.2.1"]\n', 'otpgate.yaml', BASE);
    expect(c.radius.listen).toEqual([
      { host: '::', port: 1812, family: 6 },
      { host: '2001:db8::1', port: 0, family: 6 },
      { host: '::1', port: 1812, family: 6 },
      { host: '192.0.2.1', port: 1812, family: 4 },
    ]);
  });

  it('resolves a relative data_dir against the config file folder', () => {
    expect(parseNodeConfig('node:\n  data_dir: data\n', 'x', BASE).node.data_dir).toBe('/etc/otpgate/data');
    expect(parseNodeConfig('node:\n  data_dir: ../lib/otp\n', 'x', BASE).node.data_dir).toBe('/etc/lib/otp');
    expect(parseNodeConfig('node:\n  data_dir: /srv/otp\n', 'x', BASE).node.data_dir).toBe('/srv/otp');
  });

  it('reports YAML syntax errors with their line', () => {
    expect(problems('node:\n  name: a\n  data_dir: [unclosed\nlog:\n  level: info\n')).toMatchObject([{ path: '(syntax)', line: 4 }]);
    const dup = problems('log:\n  level: info\n  level: debug\n');
    expect(dup).toMatchObject([{ path: '(syntax)', line: 3 }]);
    expect(dup[0]!.message).toMatch(/unique/i);
    expect(problems('node:\n\tdata_dir: x\n')).toMatchObject([{ path: '(syntax)', line: 2 }]);
  });

  it('reports wrong types and values with path and line, all at once', () => {
    const found = problems('node:\n  name: "bad name"\nlog:\n  level: loud\n  auth_log_days: 0\n');
    expect(found.map((p) => [p.path, p.line])).toEqual([
      ['node.name', 2],
      ['log.level', 4],
      ['log.auth_log_days', 5],
    ]);
    expect(found[1]!.message).toContain('"fatal"|"error"|"warn"|"info"|"debug"|"trace"|"silent"');
  });

  it('accepts JSON', () => {
    const c = parseNodeConfig('{"node": {"data_dir": "/srv/otp", "name": "otp-1"}, "radius": {"listen": ["127.0.0.1:1645"]}, "log": {"level": "warn"}}', 'otpgate.json', BASE);
    expect(c.node).toEqual({ data_dir: '/srv/otp', name: 'otp-1' });
    expect(c.radius.listen).toEqual([{ host: '127.0.0.1', port: 1645, family: 4 }]);
    expect(c.log.level).toBe('warn');
  });

  it('the error message lists every problem with its line', () => {
    let message = '';
    try {
      parseNodeConfig('log:\n  level: loud\nextra: 1\n', 'otpgate.yaml', BASE);
    } catch (err) {
      message = errorMessage(err);
    }
    expect(message.split('\n')).toEqual([
      'otpgate.yaml is not valid:',
      expect.stringMatching(/^ {2}- line 2: log\.level: /),
      '  - line 3: (top level): unknown setting "extra"',
    ]);
  });
});

describe('loadNodeConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'otpgate-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a file, resolving data_dir against its folder', () => {
    const path = join(dir, 'otpgate.yaml');
    writeFileSync(path, 'node:\n  data_dir: state\n');
    expect(loadNodeConfig(path, true).node.data_dir).toBe(join(dir, 'state'));
  });

  it('a missing file is the defaults unless required', () => {
    const path = join(dir, 'missing.yaml');
    expect(loadNodeConfig(path, false).node.data_dir).toBe('/var/lib/otpgate');
    expect(() => loadNodeConfig(path, true)).toThrow(ConfigFileError);
    expect(() => loadNodeConfig(path, true)).toThrow(`cannot read config file ${path}`);
  });
});

describe('parseListenAddress', () => {
  it('parses the forms and refuses the rest', () => {
    expect(parseListenAddress('10.0.0.1', 1812)).toEqual({ host: '10.0.0.1', port: 1812, family: 4 });
    expect(parseListenAddress('10.0.0.1:1645', 1812)).toEqual({ host: '10.0.0.1', port: 1645, family: 4 });
    expect(parseListenAddress('[fe80::1]:1645', 1812)).toEqual({ host: 'fe80::1', port: 1645, family: 6 });
    expect(parseListenAddress('[fe80::1]', 1812)).toEqual({ host: 'fe80::1', port: 1812, family: 6 });
    for (const bad of ['10.0.0.1:65536', '10.0.0.1:-1', '10.0.0.1: 80', '10.0.0.1:+80', '10.0.0.1:1e3', '10.0.0.1:']) {
      expect(parseListenAddress(bad, 1812), bad).toBe(`"${bad}": port must be 0-65535 (0: any free port)`);
    }
    expect(parseListenAddress('host.example:1812', 1812)).toMatch(/is not an IPv4 or IPv6 address/);
    expect(parseListenAddress('[::1]:', 1812)).toMatch(/is not an IPv4 or IPv6 address/);
  });
});

describe('operations settings (metrics, readiness budget, syslog)', () => {
  it('serves metrics on 0.0.0.0:9812 by default, with a 60 s replica lag budget and no syslog', () => {
    const c = parseNodeConfig('', 'otpgate.yaml', BASE);
    expect(c.metrics).toEqual({ enabled: true, listen: [{ host: '0.0.0.0', port: 9812, family: 4 }] });
    expect(c.cluster.lag_budget_seconds).toBe(60);
    expect(c.cluster.max_staleness_seconds).toBe(86_400);
    expect(c.log.syslog).toBeUndefined();
  });

  it('refuses a port two services share (metrics with RADIUS, replication or the admin UI), and half a TLS setup', () => {
    expect(problems('radius:\n  listen: ["0.0.0.0:1812"]\nmetrics:\n  listen: ["127.0.0.1:1812"]\n')).toEqual([
      { path: 'metrics.listen[0]', message: 'port 1812 is also in radius.listen: give metrics a port of its own', line: 4 },
    ]);
    expect(problems('metrics:\n  listen: ["0.0.0.0:8444"]\n')[0]).toMatchObject({ path: 'metrics.listen[0]', message: expect.stringContaining('cluster.listen') });
    expect(problems('metrics:\n  listen: ["127.0.0.1:8443"]\n')[0]).toMatchObject({ path: 'metrics.listen[0]', message: expect.stringContaining('admin.listen') });
    expect(problems('enrollment:\n  enabled: true\n  listen: ["0.0.0.0:8443"]\n')[0]).toMatchObject({ path: 'enrollment.listen[0]', message: 'port 8443 is also in admin.listen: give enrollment a port of its own' });
    // a service that is off holds no port
    expect(parseNodeConfig('enrollment:\n  listen: ["0.0.0.0:8443"]\n', 'otpgate.yaml', BASE).enrollment.enabled).toBe(false);
    expect(problems('metrics:\n  tls_cert_file: m.crt\n')).toMatchObject([{ path: 'metrics.tls_key_file', message: 'TLS needs both tls_cert_file and tls_key_file' }]);
    expect(problems('metrics:\n  bearer_token: short\n')).toMatchObject([{ path: 'metrics.bearer_token', message: 'at least 16 characters' }]);
  });

  it('resolves TLS and CA files against the config folder', () => {
    const c = parseNodeConfig('metrics:\n  tls_cert_file: tls/m.crt\n  tls_key_file: /abs/m.key\nlog:\n  syslog:\n    host: 192.0.2.9\n    protocol: tls\n    ca_file: ca.pem\n', 'otpgate.yaml', BASE);
    expect([c.metrics.tls_cert_file, c.metrics.tls_key_file, c.log.syslog?.ca_file]).toEqual(['/etc/otpgate/tls/m.crt', '/abs/m.key', '/etc/otpgate/ca.pem']);
    expect(c.log.syslog).toMatchObject({ port: 6514, facility: 'auth', app_name: 'otpgate' });
  });

  it('lets the admin UI answer loopback and the private ranges only, and the portal everyone, unless told otherwise', () => {
    const c = parseNodeConfig('', 'otpgate.yaml', BASE);
    expect(c.admin.allow).toEqual(['127.0.0.0/8', '::1', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7']);
    expect(c.enrollment.allow).toEqual(['0.0.0.0/0', '::/0']);
    const set = parseNodeConfig('admin:\n  allow: ["192.0.2.7", "2001:DB8::/32", "::ffff:198.51.100.0/120"]\n', 'otpgate.yaml', BASE);
    expect(set.admin.allow).toEqual(['192.0.2.7', '2001:db8::/32', '198.51.100.0/24']);
  });

  it('names every bad allow-list entry with its line, and refuses an empty list', () => {
    expect(problems('admin:\n  allow:\n    - 10.0.0.0/8\n    - intranet.example.com\n    - 10.0.0.0/33\n')).toEqual([
      { path: 'admin.allow[1]', message: '"intranet.example.com" is not an IP address or CIDR block: write an address (192.0.2.10, 2001:db8::10) or a block (10.0.0.0/8, fd00::/8)', line: 4 },
      { path: 'admin.allow[2]', message: '"10.0.0.0/33": prefix length must be 0-32: write an address (192.0.2.10, 2001:db8::10) or a block (10.0.0.0/8, fd00::/8)', line: 5 },
    ]);
    expect(problems('enrollment:\n  allow: []\n')).toMatchObject([{ path: 'enrollment.allow', message: expect.stringContaining('set enrollment.enabled: false'), line: 2 }]);
  });

  it('bounds the audit and authentication logs by age and by rows', () => {
    const c = parseNodeConfig('log:\n  admin_audit_days: 90\n  admin_audit_max_rows: 5000\n  auth_log_max_rows: 100000\n', 'otpgate.yaml', BASE);
    expect(c.log).toMatchObject({ admin_audit_days: 90, admin_audit_max_rows: 5000, auth_log_max_rows: 100_000 });
    expect(problems('log:\n  admin_audit_max_rows: 10\n  admin_audit_days: 0\n').map((p) => p.path)).toEqual(['log.admin_audit_days', 'log.admin_audit_max_rows']);
  });

  it('gives one-time VPN credentials 2 minutes by default, from 10 s to an hour', () => {
    expect(parseNodeConfig('', 'otpgate.yaml', BASE).portal.vpn_credential_seconds).toBe(120);
    expect(parseNodeConfig('portal:\n  vpn_credential_seconds: 300\n', 'otpgate.yaml', BASE).portal.vpn_credential_seconds).toBe(300);
    expect(problems('portal:\n  vpn_credential_seconds: 5\n').map((p) => p.path)).toEqual(['portal.vpn_credential_seconds']);
    expect(problems('portal:\n  vpn_credential_seconds: 7200\n').map((p) => p.path)).toEqual(['portal.vpn_credential_seconds']);
  });

  it('takes a passkey relying party as a host name with an https origin under it, never an IP address', () => {
    const c = parseNodeConfig('portal:\n  rp_id: vpn.example.com\n  origin: https://vpn.example.com:9443\n', 'otpgate.yaml', BASE);
    expect(c.portal).toMatchObject({ rp_id: 'vpn.example.com', origin: 'https://vpn.example.com:9443' });
    expect(parseNodeConfig('', 'otpgate.yaml', BASE).portal.rp_id).toBeUndefined();
    expect(problems('portal:\n  rp_id: 192.0.2.10\n  origin: https://192.0.2.10\n').map((p) => p.path)).toEqual(['portal.rp_id']);
    expect(problems('portal:\n  rp_id: vpn.example.com\n').map((p) => p.path)).toEqual(['portal.origin']);
    expect(problems('portal:\n  rp_id: example.com\n  origin: http://vpn.example.com\n').map((p) => p.path)).toEqual(['portal.origin']);
    expect(problems('portal:\n  rp_id: example.com\n  origin: https://vpn.example.org\n').map((p) => p.path)).toEqual(['portal.origin']);
    expect(problems('portal:\n  rp_id: example.com\n  origin: https://example.com/portal\n').map((p) => p.path)).toEqual(['portal.origin']);
  });

  it('wants a lag budget longer than the long poll, a staleness limit longer than the budget, and a known facility', () => {
    expect(problems('cluster:\n  poll_seconds: 30\n  lag_budget_seconds: 20\n')).toMatchObject([{ path: 'cluster.lag_budget_seconds', message: expect.stringContaining('more than poll_seconds (30)') }]);
    expect(problems('cluster:\n  lag_budget_seconds: 120\n  max_staleness_seconds: 120\n')).toMatchObject([
      { path: 'cluster.max_staleness_seconds', message: 'must be more than lag_budget_seconds (120): a replica is degraded first, then not ready', line: 3 },
    ]);
    expect(problems('cluster:\n  max_staleness_seconds: 2592001\n')[0]).toMatchObject({ path: 'cluster.max_staleness_seconds' });
    expect(parseNodeConfig('cluster:\n  poll_seconds: 1\n  lag_budget_seconds: 3\n  max_staleness_seconds: 8\n', 'otpgate.yaml', BASE).cluster).toMatchObject({ lag_budget_seconds: 3, max_staleness_seconds: 8 });
    expect(problems('log:\n  syslog:\n    host: h\n    facility: local9\n')[0]).toMatchObject({ path: 'log.syslog.facility' });
    expect(problems('log:\n  syslog:\n    protocol: tcp\n')[0]).toMatchObject({ path: 'log.syslog.host' });
  });
});
