import http from 'node:http';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { NodeConfig } from '@otpgate/shared';
import type { OpsEndpoint, ReadinessReport, Store } from '@otpgate/core';
import { errorMessage } from '@otpgate/shared';

/** node_meta key where `serve` records the addresses of its metrics and health server. */
export const OPS_ENDPOINT_META = 'ops_endpoints';

/** What the running node's /readyz said, or why it could not be asked. */
export type ProbeResult =
  | { reachable: true; url: string; status: number; report: ReadinessReport }
  | { reachable: false; url: string | null; error: string };

const PROBE_TIMEOUT_MS = 3000;

/** The address to ask: a wildcard bind is reached over loopback. */
function probeUrl(endpoint: OpsEndpoint): string {
  const host = endpoint.host === '0.0.0.0' ? '127.0.0.1' : endpoint.host === '::' ? '::1' : endpoint.host;
  return `${endpoint.scheme}://${isIP(host) === 6 ? `[${host}]` : host}:${endpoint.port}/readyz`;
}

function recordedEndpoints(store: Store): OpsEndpoint[] {
  try {
    const parsed: unknown = JSON.parse(store.getMeta(OPS_ENDPOINT_META) ?? '[]');
    return Array.isArray(parsed) ? (parsed as OpsEndpoint[]) : [];
  } catch {
    return [];
  }
}

/**
 * Ask the local node's own /readyz (the facts only the serving process knows: is RADIUS bound). Over TLS the server
 * must present exactly the configured certificate, so the bearer token never goes to anyone else.
 */
export async function probeLocalNode(config: NodeConfig, store: Store): Promise<ProbeResult> {
  if (!config.metrics.enabled) return { reachable: false, url: null, error: 'metrics.enabled is false: the running node cannot be asked' };
  const endpoint = recordedEndpoints(store)[0];
  if (!endpoint) return { reachable: false, url: null, error: 'this node has not been started with "otpgate serve" yet' };
  const url = probeUrl(endpoint);
  const headers: Record<string, string> = config.metrics.bearer_token ? { authorization: `Bearer ${config.metrics.bearer_token}` } : {};
  let pinned: string | undefined;
  if (endpoint.scheme === 'https') {
    try {
      pinned = new X509Certificate(readFileSync(config.metrics.tls_cert_file ?? '')).fingerprint256;
    } catch (err) {
      return { reachable: false, url, error: `cannot read metrics.tls_cert_file to check the node's certificate: ${errorMessage(err)}` };
    }
  }
  return new Promise((resolve) => {
    const fail = (err: Error) => resolve({ reachable: false, url, error: `${err.message} (is "otpgate serve" running?)` });
    const ask = (socket?: tls.TLSSocket) => {
      const req = http.get(
        { host: hostOf(url), port: endpoint.port, path: '/readyz', headers, timeout: PROBE_TIMEOUT_MS, ...(socket ? { createConnection: () => socket } : {}) },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => {
            try {
              const parsed = JSON.parse(body) as { status?: string; degraded?: string[]; checks?: ReadinessReport['checks'] };
              if (!parsed.checks) throw new Error(`unexpected answer (HTTP ${res.statusCode}): ${body.slice(0, 200)}`);
              const ready = parsed.status === 'ready' || parsed.status === 'degraded';
              resolve({ reachable: true, url, status: res.statusCode ?? 0, report: { ready, degraded: parsed.degraded ?? [], checks: parsed.checks } });
            } catch (err) {
              resolve({ reachable: false, url, error: errorMessage(err) });
            }
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${PROBE_TIMEOUT_MS / 1000} s`)));
      req.on('error', fail);
    };
    if (endpoint.scheme === 'http') return ask();
    // the node's own certificate, whatever names it carries: compared with the configured file before anything is sent
    const socket = tls.connect({ host: hostOf(url), port: endpoint.port, rejectUnauthorized: false, timeout: PROBE_TIMEOUT_MS });
    socket.once('timeout', () => socket.destroy(new Error(`no TLS handshake within ${PROBE_TIMEOUT_MS / 1000} s`)));
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      if (socket.getPeerCertificate().fingerprint256 !== pinned) {
        socket.destroy();
        resolve({ reachable: false, url, error: 'the server on the metrics port is not this node (its certificate differs from metrics.tls_cert_file)' });
        return;
      }
      socket.setTimeout(0);
      ask(socket);
    });
  });
}

function hostOf(url: string): string {
  return new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
}
