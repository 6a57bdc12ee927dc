// Where completion callbacks may go: http(s) only, and by default no loopback, private, link-local or otherwise
// internal address (a callback URL is the client's choice; without this it could make the server probe its own
// network). Names are checked on the address they resolve to, at connection time (send-callback.ts), so a name
// rebound to 127.0.0.1 after the enqueue is refused too.
import { BlockList, isIP } from 'node:net';

/** An entry of --callback-allow: a host (name or address) that callbacks may reach whatever it resolves to; any port unless given. */
export interface AllowedHost {
  host: string;
  port?: number;
}

const INTERNAL = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) INTERNAL.addSubnet(network, prefix, 'ipv4');
// Unspecified, loopback, IPv4-mapped (::ffff:127.0.0.1 is 127.0.0.1), unique local, link-local, multicast.
for (const [network, prefix] of [['::', 128], ['::1', 128], ['::ffff:0:0', 96], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8]] as const) {
  INTERNAL.addSubnet(network, prefix, 'ipv6');
}

/** True for an address callbacks may not reach unless allowed: loopback, private, link-local, CGNAT, multicast, … */
export function isInternalAddress(address: string): boolean {
  const family = isIP(address);
  return family !== 0 && INTERNAL.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** The URL's host as an address or name: IPv6 without its brackets. */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

function portOf(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

export function isAllowedHost(url: URL, allow: readonly AllowedHost[]): boolean {
  const host = hostOf(url).toLowerCase();
  return allow.some((entry) => entry.host === host && (entry.port === undefined || entry.port === portOf(url)));
}

/**
 * Why `text` cannot be a callback URL, or undefined when it can: not a URL, not http(s), credentials in it, or an
 * internal address written out (names are checked when they are resolved, at delivery).
 */
export function callbackUrlProblem(text: string, allow: readonly AllowedHost[]): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'must be an absolute http:// or https:// URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `must be an http:// or https:// URL, not ${url.protocol}`;
  if (url.username || url.password) return 'must not carry credentials (the signature authenticates the sender)';
  if (!isAllowedHost(url, allow) && isInternalAddress(hostOf(url))) {
    return `${hostOf(url)} is a loopback, private or link-local address: callbacks may not go there unless the server allows it (--callback-allow)`;
  }
  return undefined;
}

/** Parses one --callback-allow value: `host` or `host:port` (`[v6]:port` for an IPv6 address). */
export function parseAllowedHost(text: string): AllowedHost | undefined {
  const match = /^(?:\[([0-9a-f:.]+)\]|([a-z0-9.-]+|[0-9a-f:]+))(?::(\d{1,5}))?$/i.exec(text.trim());
  if (!match) return undefined;
  const host = (match[1] ?? match[2]!).toLowerCase();
  if (match[2] !== undefined && match[2].includes(':')) return { host }; // a bare IPv6 address: no port
  const port = match[3] === undefined ? undefined : Number(match[3]);
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  return port === undefined ? { host } : { host, port };
}
