import { isIP } from 'node:net';

export interface ListenAddress {
  host: string;
  port: number;
  family: 4 | 6;
}

/**
 * "host:port", "[v6]:port", or a bare host (the default port is used). Returns an error message for the config
 * validator instead of throwing, so every bad entry is reported at once.
 */
export function parseListenAddress(text: string, defaultPort: number): ListenAddress | string {
  let host = text;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) {
    host = bracketed[1] ?? '';
    portText = bracketed[2];
  } else if (isIP(text) !== 6) {
    const colon = text.lastIndexOf(':');
    if (colon >= 0) {
      host = text.slice(0, colon);
      portText = text.slice(colon + 1);
    }
  }
  const family = isIP(host);
  if (family === 0) return `"${text}": "${host}" is not an IPv4 or IPv6 address (write IPv6 as [addr]:port)`;
  // decimal digits only: Number() would take "", " 80", "0x714" or "1e3" (and "" silently as port 0, any free port)
  const port = portText === undefined ? defaultPort : /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65535) return `"${text}": port must be 0-65535 (0: any free port)`;
  return { host, port, family: family as 4 | 6 };
}

export function formatListenAddress(a: { host: string; port: number }): string {
  return isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
