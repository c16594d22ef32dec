// Parses a PROXY protocol header (HAProxy's spec, versions 1 and 2) from the first bytes of a
// connection: strictly, incrementally, and never reading past the header's declared bounds. Pure
// functions over network input; used by each HTTP worker process on binds with proxy-protocol.

import { isIPv4, isIPv6 } from 'node:net';

export type ProxyVersions = 'v1' | 'v2' | 'auto';

export interface ProxySource {
  readonly address: string;
  readonly port: number;
  readonly family: 'IPv4' | 'IPv6';
}

export type ProxyHeaderReading =
  /** Not enough bytes yet to decide. */
  | { readonly kind: 'incomplete' }
  /** A valid header `length` bytes long; source null for LOCAL / UNKNOWN / UNSPEC / AF_UNIX (the peer stands for itself). */
  | { readonly kind: 'header'; readonly length: number; readonly version: 1 | 2; readonly source: ProxySource | null }
  | { readonly kind: 'invalid'; readonly reason: string };

/** v1: "PROXY TCP6 " + two 39-character addresses + two ports + spaces + CRLF is at most 107 bytes. */
export const V1_MAXIMUM_LENGTH = 107;
/** v2: a 16-byte fixed part, then at most 65535 bytes of addresses and TLVs. */
export const V2_FIXED_LENGTH = 16;
export const V2_MAXIMUM_LENGTH = V2_FIXED_LENGTH + 0xffff;

const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** Address block lengths of v2 families: INET (2 x 4 + 2 x 2), INET6 (2 x 16 + 2 x 2), UNIX (2 x 108). */
const V2_ADDRESS_LENGTH = { 1: 12, 2: 36, 3: 216 } as const;

/** The first bytes, printable, for a log line: never more than 24 characters of someone's input. */
export function describeBytes(bytes: Buffer): string {
  const shown = bytes
    .subarray(0, 24)
    .toString('latin1')
    .replace(/[^\x20-\x7e]/g, (character) => `\\x${character.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return `"${shown}${bytes.length > 24 ? '...' : ''}"`;
}

/** Whether `bytes` so far agree with `expected` (as far as both go). */
function startsLike(bytes: Buffer, expected: Buffer): boolean {
  const length = Math.min(bytes.length, expected.length);
  return bytes.subarray(0, length).equals(expected.subarray(0, length));
}

const PORT = /^(?:0|[1-9]\d{0,4})$/;

function parseV1(bytes: Buffer): ProxyHeaderReading {
  const end = bytes.subarray(0, V1_MAXIMUM_LENGTH).indexOf('\r\n', 0, 'latin1');
  if (end === -1) {
    return bytes.length >= V1_MAXIMUM_LENGTH
      ? { kind: 'invalid', reason: `a PROXY v1 line longer than ${V1_MAXIMUM_LENGTH} bytes` }
      : { kind: 'incomplete' };
  }
  const line = bytes.subarray(0, end).toString('latin1');
  const length = end + 2;
  const fields = line.split(' ');
  // "PROXY UNKNOWN" may carry anything up to the CRLF: the receiver ignores it and keeps the peer.
  if (fields[1] === 'UNKNOWN') return { kind: 'header', length, version: 1, source: null };
  if (fields.length !== 6) return { kind: 'invalid', reason: `a PROXY v1 line without 6 fields: ${describeBytes(bytes.subarray(0, end))}` };
  const [, protocol, source = '', destination = '', sourcePort = '', destinationPort = ''] = fields;
  const valid = protocol === 'TCP4' ? isIPv4 : protocol === 'TCP6' ? isIPv6 : null;
  if (valid === null)
    return {
      kind: 'invalid',
      reason: `PROXY v1 protocol ${describeBytes(Buffer.from(protocol ?? '', 'latin1'))} is not TCP4, TCP6 or UNKNOWN`,
    };
  // The v1 grammar has no zone ids, no brackets, and addresses of the family it names.
  if (!valid(source) || !valid(destination) || source.includes('%') || destination.includes('%')) {
    return { kind: 'invalid', reason: `PROXY v1 addresses are not ${protocol} addresses: ${describeBytes(bytes.subarray(0, end))}` };
  }
  for (const port of [sourcePort, destinationPort]) {
    if (!PORT.test(port) || Number(port) > 65535)
      return { kind: 'invalid', reason: `PROXY v1 port ${describeBytes(Buffer.from(port, 'latin1'))} is not 0-65535` };
  }
  return {
    kind: 'header',
    length,
    version: 1,
    source: { address: source, port: Number(sourcePort), family: protocol === 'TCP4' ? 'IPv4' : 'IPv6' },
  };
}

function ipv6Text(bytes: Buffer): string {
  const groups: string[] = [];
  for (let offset = 0; offset < 16; offset += 2) groups.push(bytes.readUInt16BE(offset).toString(16));
  // The canonical short form, as a socket would report the address (node:net's own formatting).
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

function parseV2(bytes: Buffer): ProxyHeaderReading {
  if (bytes.length < V2_FIXED_LENGTH) return { kind: 'incomplete' };
  const versionAndCommand = bytes[12] ?? 0;
  const familyAndTransport = bytes[13] ?? 0;
  const declared = bytes.readUInt16BE(14);
  if (versionAndCommand >> 4 !== 2) return { kind: 'invalid', reason: `PROXY v2 version ${versionAndCommand >> 4} (only 2 exists)` };
  const command = versionAndCommand & 0x0f;
  if (command > 1) return { kind: 'invalid', reason: `PROXY v2 command ${command} (0 LOCAL and 1 PROXY exist)` };
  const length = V2_FIXED_LENGTH + declared;
  if (bytes.length < length) return { kind: 'incomplete' };
  const family = familyAndTransport >> 4;
  const transport = familyAndTransport & 0x0f;
  if (family > 3 || transport > 2)
    return { kind: 'invalid', reason: `PROXY v2 address family/transport byte 0x${familyAndTransport.toString(16)} is undefined` };
  // LOCAL: the proxy speaks for itself (health checks); the addresses, if any, are to be ignored.
  if (command === 0) return { kind: 'header', length, version: 2, source: null };
  if (transport === 2) return { kind: 'invalid', reason: 'PROXY v2 over a stream names a datagram (UDP) source' };
  if (family === 0 || transport === 0) return { kind: 'header', length, version: 2, source: null };
  const addressLength = V2_ADDRESS_LENGTH[family as 1 | 2 | 3];
  if (declared < addressLength)
    return { kind: 'invalid', reason: `PROXY v2 declares ${declared} bytes, fewer than the ${addressLength} its address family needs` };
  // What follows the addresses are TLVs (ALPN, authority, unique id, SSL ...): each must fit what was declared.
  for (let offset = V2_FIXED_LENGTH + addressLength; offset < length;) {
    if (offset + 3 > length) return { kind: 'invalid', reason: 'PROXY v2 TLV header cut short' };
    const tlvLength = bytes.readUInt16BE(offset + 1);
    offset += 3 + tlvLength;
    if (offset > length) return { kind: 'invalid', reason: 'PROXY v2 TLV longer than the header' };
  }
  if (family === 3) return { kind: 'header', length, version: 2, source: null }; // AF_UNIX: no address to report
  const body = bytes.subarray(V2_FIXED_LENGTH, V2_FIXED_LENGTH + addressLength);
  if (family === 1) {
    return {
      kind: 'header',
      length,
      version: 2,
      source: { address: [...body.subarray(0, 4)].join('.'), port: body.readUInt16BE(8), family: 'IPv4' },
    };
  }
  return {
    kind: 'header',
    length,
    version: 2,
    source: { address: ipv6Text(body.subarray(0, 16)), port: body.readUInt16BE(32), family: 'IPv6' },
  };
}

/**
 * Reads the header at the start of `bytes` (everything received so far). Decides as early as it can:
 * the first byte that fits neither signature makes it invalid, so plain HTTP is refused at once.
 */
export function readProxyHeader(bytes: Buffer, versions: ProxyVersions): ProxyHeaderReading {
  if (bytes.length === 0) return { kind: 'incomplete' };
  const v1 = versions !== 'v2' && startsLike(bytes, V1_PREFIX);
  const v2 = versions !== 'v1' && startsLike(bytes, V2_SIGNATURE);
  if (v1) return bytes.length < V1_PREFIX.length ? { kind: 'incomplete' } : parseV1(bytes);
  if (v2) return bytes.length < V2_SIGNATURE.length ? { kind: 'incomplete' } : parseV2(bytes);
  const expected = versions === 'auto' ? 'a PROXY protocol header' : `a PROXY protocol ${versions} header`;
  return { kind: 'invalid', reason: `expected ${expected}, got ${describeBytes(bytes)}` };
}
