// The trusted-proxy list (forwarded-allow-ips): addresses and CIDR ranges, parsed once into a matcher,
// and the strict IP address parsing it needs. Used by the appd master (validating the setting) and by
// each HTTP worker (deciding whose forwarded headers and PROXY headers count).

import { isIPv4, SocketAddress } from 'node:net';

/**
 * Whether `text` is an IPv6 address, by inet_pton (what SocketAddress checks with). Not node:net's
 * isIPv6: its first call compiles a very large regular expression, 16 ms of CPU in every worker's start
 * on this machine (each worker parses --forwarded-allow-ips before it serves).
 */
function isIPv6(text: string): boolean {
  try {
    new SocketAddress({ address: text, family: 'ipv6' });
    return true;
  } catch {
    // ERR_INVALID_ADDRESS: not an IPv6 address, which is the answer.
    return false;
  }
}

/** Thrown for an item of the list that is neither an address, a range nor "*". */
export class InvalidTrustedProxy extends Error {}

/** A parsed IP address: IPv4 as a 32-bit number, IPv6 as a 128-bit bigint (IPv4-mapped IPv6 counts as IPv4). */
export type ParsedAddress = { readonly family: 4; readonly value: number } | { readonly family: 6; readonly value: bigint };

function ipv4Value(text: string): number {
  let value = 0;
  for (const part of text.split('.')) value = value * 256 + Number(part);
  return value;
}

/** The 8 groups of an IPv6 address whose syntax node:net already accepted (zone removed). */
function ipv6Groups(text: string): number[] {
  let expanded = text;
  // An embedded IPv4 tail (::ffff:1.2.3.4) is the last two groups.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const value = ipv4Value(tail);
    expanded = `${text.slice(0, lastColon + 1)}${Math.floor(value / 65536).toString(16)}:${(value % 65536).toString(16)}`;
  }
  const [left = '', right] = expanded.split('::');
  const groups = (part: string): number[] => (part === '' ? [] : part.split(':').map((group) => parseInt(group, 16)));
  const leftGroups = groups(left);
  const rightGroups = right === undefined ? [] : groups(right);
  return [...leftGroups, ...new Array<number>(8 - leftGroups.length - rightGroups.length).fill(0), ...rightGroups];
}

const MAPPED_PREFIX = 0xffffn << 32n;

/** Parses an IP address (IPv6 may carry a %zone); null for anything else. */
export function parseAddress(text: string): ParsedAddress | null {
  if (isIPv4(text)) return { family: 4, value: ipv4Value(text) };
  const withoutZone = text.includes('%') ? text.slice(0, text.indexOf('%')) : text;
  if (!isIPv6(withoutZone)) return null;
  let value = 0n;
  for (const group of ipv6Groups(withoutZone)) value = (value << 16n) | BigInt(group);
  // ::ffff:a.b.c.d is how a dual-stack socket shows an IPv4 peer: the same host as a.b.c.d.
  if (value >> 32n === 0xffffn) return { family: 4, value: Number(value - MAPPED_PREFIX) };
  return { family: 6, value };
}

interface Range {
  readonly family: 4 | 6;
  /** The first address of the range. */
  readonly base: bigint;
  readonly prefixLength: number;
}

function toBig(address: ParsedAddress): bigint {
  return typeof address.value === 'bigint' ? address.value : BigInt(address.value);
}

function rangeContains(range: Range, address: ParsedAddress): boolean {
  if (range.family !== address.family) return false;
  const bits = range.family === 4 ? 32 : 128;
  const shift = BigInt(bits - range.prefixLength);
  return toBig(address) >> shift === range.base >> shift;
}

function parseItem(item: string): Range | '*' {
  if (item === '*') return '*';
  const slash = item.indexOf('/');
  const addressText = slash === -1 ? item : item.slice(0, slash);
  const address = parseAddress(addressText);
  if (address === null || addressText.includes('%')) {
    throw new InvalidTrustedProxy(`"${item}" is not an IP address or a CIDR range (e.g. 10.0.0.0/8, fd00::/8)`);
  }
  const bits = address.family === 4 ? 32 : 128;
  // An IPv4-mapped range (::ffff:10.0.0.0/104) is the IPv4 range it maps.
  const mapped = address.family === 4 && isIPv6(addressText);
  const prefixText = slash === -1 ? String(mapped ? 128 : bits) : item.slice(slash + 1);
  let prefixLength = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN;
  if (mapped) prefixLength -= 96;
  if (!(prefixLength >= 0 && prefixLength <= bits)) {
    throw new InvalidTrustedProxy(
      `"${item}" has an invalid prefix length (0 to ${mapped ? 128 : bits} for ${mapped || address.family === 6 ? 'IPv6' : 'IPv4'})`,
    );
  }
  const shift = BigInt(bits - prefixLength);
  return { family: address.family, base: (toBig(address) >> shift) << shift, prefixLength };
}

/** "127.0.0.1, ::1,10.0.0.0/8" -> its items; an empty list trusts no address. */
export function splitTrustedProxies(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** Validates a list and returns it normalised ("a,b,c"); throws InvalidTrustedProxy naming the bad item. */
export function normaliseTrustedProxies(text: string): string {
  const items = splitTrustedProxies(text);
  for (const item of items) parseItem(item);
  return items.join(',');
}

/** Whether a peer address is a trusted proxy. Exact addresses are a set lookup; ranges parse the address once. */
export class TrustedProxies {
  readonly trustsEveryAddress: boolean;
  readonly #exact = new Set<string>();
  readonly #ranges: Range[] = [];

  constructor(list: string) {
    let everyAddress = false;
    for (const item of splitTrustedProxies(list)) {
      const parsed = parseItem(item);
      if (parsed === '*') {
        everyAddress = true;
      } else if (!item.includes('/') && parsed.family === 4 && isIPv4(item)) {
        // The forms a socket reports an IPv4 peer in: plain, and mapped on a dual-stack socket.
        this.#exact.add(item).add(`::ffff:${item}`);
      } else {
        this.#ranges.push(parsed);
      }
    }
    this.trustsEveryAddress = everyAddress;
  }

  /** `address` as a socket or a forwarded header gives it; false for anything that is not an IP address. */
  trusts(address: string): boolean {
    if (this.trustsEveryAddress) return parseAddress(address) !== null;
    if (this.#exact.has(address)) return true;
    if (this.#ranges.length === 0) return false;
    const parsed = parseAddress(address);
    return parsed !== null && this.#ranges.some((range) => rangeContains(range, parsed));
  }
}
