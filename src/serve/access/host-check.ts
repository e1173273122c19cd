import { isIP } from 'node:net';

/**
 * Whether a request's Host header names this server in a way a DNS-rebinding page cannot: `localhost` (and
 * `*.localhost`, which browsers resolve to loopback), any IP address literal, or one of the names the server was
 * started with (`--allowed-host`). A page on evil.example whose name is re-pointed at 127.0.0.1 still sends
 * `Host: evil.example`, so it is refused. This is the rule Vite adopted for its dev server (`server.allowedHosts`).
 */
export function isAllowedHost(hostHeader: string | undefined, allowedHosts: readonly string[]): boolean {
  if (!hostHeader) return false;
  const host = hostName(hostHeader);
  if (host === undefined) return false;
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host.replace(/^\[|\]$/g, '')) !== 0) return true;
  return allowedHosts.some((allowed) => allowed.toLowerCase() === host);
}

/** The host name of a Host header, lower case, without the port; IPv6 literals keep their brackets. */
function hostName(header: string): string | undefined {
  const value = header.trim().toLowerCase();
  const match = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(:\d{1,5})?$/.exec(value);
  return match?.[1];
}

/** Whether an address to listen on is reachable only from this machine. */
export function isLoopbackAddress(address: string): boolean {
  const host = address.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::ffff:127.0.0.1';
}
