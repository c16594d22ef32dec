// Parses listen addresses as Gunicorn writes them: HOST:PORT, [::1]:PORT, :PORT, unix:/path, fd://N,
// plus fd://NAME for a socket systemd passed under that name (FileDescriptorName=, LISTEN_FDNAMES).
// Used by the appd master (binding) and by appctl (display).

import { isIP } from 'node:net';

export type BindAddress =
  | { kind: 'tcp'; text: string; host: string | null; port: number }
  | { kind: 'unix'; text: string; path: string }
  | { kind: 'fd'; text: string; fd: number }
  | { kind: 'named-fd'; text: string; name: string };

/** The longest unix socket path Linux accepts (sun_path is 108 bytes with the trailing NUL). */
export const UNIX_PATH_MAX_BYTES = 107;

function parsePort(text: string, original: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    throw new Error(`invalid port ${JSON.stringify(text)} in ${JSON.stringify(original)} (expected 0-65535)`);
  }
  return Number(text);
}

export function parseBindAddress(original: string): BindAddress {
  const text = original.trim();
  if (text === '') throw new Error('empty address');

  const unixMatch = /^unix:(?:\/\/)?(.+)$/.exec(text);
  if (unixMatch?.[1]) {
    const path = unixMatch[1];
    if (Buffer.byteLength(path) > UNIX_PATH_MAX_BYTES) {
      throw new Error(`unix socket path is ${Buffer.byteLength(path)} bytes, longer than the ${UNIX_PATH_MAX_BYTES} Linux allows: ${path}`);
    }
    return { kind: 'unix', text, path };
  }

  const fdMatch = /^fd:\/\/(.*)$/.exec(text);
  if (fdMatch) {
    const fdText = fdMatch[1] ?? '';
    // systemd's FileDescriptorName= allows any printable ASCII but ":" (the LISTEN_FDNAMES separator).
    if (!/^\d+$/.test(fdText) && /^[\x21-\x39\x3b-\x7e]{1,255}$/.test(fdText)) return { kind: 'named-fd', text, name: fdText };
    if (!/^\d+$/.test(fdText) || Number(fdText) < 3) {
      throw new Error(
        `invalid file descriptor in ${JSON.stringify(original)} (expected fd://N with N >= 3, or fd://NAME for a socket systemd passed under that name)`,
      );
    }
    return { kind: 'fd', text, fd: Number(fdText) };
  }

  const withoutScheme = text.replace(/^tcp:\/\//, '');
  const bracketed = /^\[([^\]]+)\]:(.*)$/.exec(withoutScheme);
  if (bracketed) {
    const host = bracketed[1] ?? '';
    if (isIP(host) !== 6) throw new Error(`invalid IPv6 address ${JSON.stringify(host)} in ${JSON.stringify(original)}`);
    return { kind: 'tcp', text, host, port: parsePort(bracketed[2] ?? '', original) };
  }

  const colon = withoutScheme.lastIndexOf(':');
  if (colon === -1) {
    throw new Error(
      `address ${JSON.stringify(original)} has no port (write HOST:PORT, :PORT, [::1]:PORT, unix:/path, fd://N or fd://NAME)`,
    );
  }
  const host = withoutScheme.slice(0, colon);
  const port = parsePort(withoutScheme.slice(colon + 1), original);
  if (host.includes(':')) {
    throw new Error(`IPv6 addresses need brackets: write [${host}]:${port}`);
  }
  if (host !== '' && host !== 'localhost' && isIP(host) === 0 && !/^[A-Za-z0-9.-]+$/.test(host)) {
    throw new Error(`invalid host ${JSON.stringify(host)} in ${JSON.stringify(original)}`);
  }
  return { kind: 'tcp', text, host: host === '' ? null : host, port };
}

/** How an address is shown in logs and status once bound (port 0 resolved). */
export function formatListenUrl(address: { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string }): string {
  if (address.kind === 'unix') return `unix:${address.path}`;
  return address.host.includes(':') ? `http://[${address.host}]:${address.port}` : `http://${address.host}:${address.port}`;
}
