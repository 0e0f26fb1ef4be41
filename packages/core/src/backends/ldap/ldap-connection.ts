import * as net from 'node:net';
import * as tls from 'node:tls';
import { Client } from 'ldapts';
import type { LdapBackendSettings } from '@otpgate/shared';
import { LdapBackendError } from './ldap-errors.js';

/** The settings a connection needs. */
export type ConnectionSettings = Pick<
  LdapBackendSettings,
  'start_tls' | 'verify_certificate' | 'ca_certificates' | 'connect_timeout_ms' | 'timeout_ms'
>;

export interface ServerAddress {
  url: string;
  host: string;
  port: number;
  /** ldaps:// (TLS from the first byte). */
  secure: boolean;
}

export function parseServerUrl(url: string): ServerAddress {
  const u = new URL(url);
  const secure = u.protocol === 'ldaps:';
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return { url: `${u.protocol}//${u.host}`, host, port: u.port ? Number(u.port) : secure ? 636 : 389, secure };
}

/**
 * TLS for ldaps:// and StartTLS: the configured PEM certificates replace the system roots as trust anchors, and the
 * certificate must name the host of the URL — unless verify_certificate is off (lab only).
 */
export function tlsOptions(settings: ConnectionSettings, host: string): tls.ConnectionOptions {
  return {
    host,
    // SNI takes a host name only; Node warns when given an IP address
    servername: net.isIP(host) ? undefined : host,
    ca: settings.ca_certificates || undefined,
    rejectUnauthorized: settings.verify_certificate,
    checkServerIdentity: settings.verify_certificate ? tls.checkServerIdentity : () => undefined,
    minVersion: 'TLSv1.2',
  };
}

/** Resolves like `promise`, or rejects with a timeout after `ms` (running `onTimeout` to free what it holds). */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string, onTimeout: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout();
      reject(Object.assign(new Error(`${what}: no answer within ${ms} ms`), { code: 'ETIMEDOUT' }));
    }, ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/** TCP (and for ldaps:// the TLS handshake) within connect_timeout_ms, with Nagle off: LDAP is request/response. */
function openSocket(addr: ServerAddress, settings: ConnectionSettings): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = addr.secure
      ? tls.connect({ ...tlsOptions(settings, addr.host), port: addr.port })
      : net.connect({ host: addr.host, port: addr.port });
    socket.setNoDelay(true);
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    const timer = setTimeout(
      () => fail(Object.assign(new Error(`no connection within ${settings.connect_timeout_ms} ms`), { code: 'ETIMEDOUT' })),
      settings.connect_timeout_ms,
    );
    socket.once('error', fail);
    socket.once(addr.secure ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.removeListener('error', fail);
      // until ldapts attaches its own listeners on the first operation, an error must not go unhandled
      socket.on('error', () => undefined);
      resolve(socket);
    });
  });
}

/**
 * Makes the writes one event-loop turn sends on `socket` go out together: the first write of a turn corks the socket
 * and the check phase of that same turn (setImmediate) uncorks it, so every request written meanwhile leaves in one
 * writev. A write on TCP costs a system call that on loopback also delivers the segment; searches pipelined on a
 * shared connection (many RADIUS requests arrive in one poll phase) then cost one call instead of one each. Nothing
 * waits longer than the rest of the current turn. The bytes and their order are unchanged.
 */
function coalesceWrites(socket: net.Socket): { readonly pending: boolean } {
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  const state = { pending: false };
  const flush = () => {
    state.pending = false;
    socket.uncork();
  };
  socket.write = ((...args: unknown[]) => {
    if (!state.pending && !socket.destroyed) {
      state.pending = true;
      socket.cork();
      setImmediate(flush);
    }
    return write(...args);
  });
  return state;
}

export interface ConnectionOptions {
  /** Batch the writes of one event-loop turn (connections that pipeline searches; never needed for binds). */
  coalesceWrites?: boolean;
}

/**
 * One LDAP connection: an ldapts client over a socket we opened ourselves. ldapts would silently reconnect a dropped
 * connection (unbound, and without StartTLS — a later bind would then send a password in clear); here the transport
 * hooks hand out the one socket and refuse any other, so a dropped connection stays dead and the pool replaces it.
 */
export class LdapConnection {
  readonly client: Client;
  private socket: net.Socket;
  private handedOut = false;
  private batch: { readonly pending: boolean } | null = null;

  private constructor(
    readonly address: ServerAddress,
    private readonly settings: ConnectionSettings,
    socket: net.Socket,
    private readonly options: ConnectionOptions,
  ) {
    this.socket = socket;
    this.client = new Client({
      url: address.url,
      timeout: settings.timeout_ms,
      connectTimeout: settings.connect_timeout_ms,
      createConnection: () => this.initialSocket(),
      createSecureConnection: (options?: unknown) => this.secureSocket(options),
    });
  }

  /** Connects, and upgrades with StartTLS when configured (ldap:// URLs). */
  static async open(address: ServerAddress, settings: ConnectionSettings, options: ConnectionOptions = {}): Promise<LdapConnection> {
    const conn = new LdapConnection(address, settings, await openSocket(address, settings), options);
    if (!address.secure && settings.start_tls) {
      const upgrade = conn.client.startTLS(tlsOptions(settings, address.host));
      upgrade.catch(() => undefined); // the deadline below reports the failure
      await withDeadline(upgrade, settings.timeout_ms, 'StartTLS', () => conn.socket.destroy()).catch((err: unknown) => {
        conn.socket.destroy();
        throw err;
      });
    }
    return conn;
  }

  /** True while requests written in this event-loop turn wait to go out together (coalesceWrites only). */
  get writesPending(): boolean {
    return this.batch?.pending === true && !this.socket.destroyed;
  }

  /** False once the socket is gone (closed by the server, a timeout, an error). */
  get alive(): boolean {
    return !this.socket.destroyed;
  }

  get tlsSocket(): tls.TLSSocket | null {
    return this.socket instanceof tls.TLSSocket ? this.socket : null;
  }

  /** "TLSv1.3 (StartTLS), certificate CN=ldap.example.com issued by CN=Example CA, valid until ..." or "no TLS". */
  describeTransport(): string {
    const s = this.tlsSocket;
    if (!s) return 'no TLS (plain LDAP: passwords cross the network in clear)';
    const cert = s.getPeerCertificate();
    const name = (o: unknown) => {
      const rec = (o ?? {}) as Record<string, unknown>;
      return typeof rec.CN === 'string' ? `CN=${rec.CN}` : JSON.stringify(rec);
    };
    const how = this.address.secure ? 'ldaps' : 'StartTLS';
    const verified = s.authorized ? 'verified' : `NOT verified (${String(s.authorizationError ?? 'verify_certificate is off')})`;
    return (
      `${s.getProtocol() ?? 'TLS'} (${how}), certificate ${name(cert.subject)} issued by ${name(cert.issuer)}, ` +
      `valid until ${cert.valid_to}, ${verified}`
    );
  }

  /** Unbinds and closes; never throws, never waits longer than a second. */
  async close(): Promise<void> {
    const socket = this.socket;
    await withDeadline(this.client.unbind(), 1000, 'unbind', () => socket.destroy()).catch(() => undefined);
    socket.destroy();
  }

  private initialSocket(): net.Socket {
    if (this.handedOut) throw new LdapBackendError('closed', 'connection lost; not reconnecting (the pool opens a new one)');
    this.handedOut = true;
    return this.writer(this.socket);
  }

  /** The socket ldapts writes its requests to (after StartTLS, the TLS socket). */
  private writer<S extends net.Socket>(socket: S): S {
    if (this.options.coalesceWrites) this.batch = coalesceWrites(socket);
    return socket;
  }

  /** ldaps://: the socket already opened. StartTLS: ldapts passes the plain socket to wrap. */
  private secureSocket(options: unknown): tls.TLSSocket {
    const upgrade = options as tls.ConnectionOptions | undefined;
    if (upgrade?.socket) {
      const secured = tls.connect({ ...upgrade, ...tlsOptions(this.settings, this.address.host), socket: upgrade.socket });
      this.socket = secured;
      return this.writer(secured);
    }
    return this.initialSocket() as tls.TLSSocket;
  }
}
