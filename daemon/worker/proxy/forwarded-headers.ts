// Reads what a trusted proxy says about the client: X-Forwarded-For/-Proto/-Host, or RFC 7239 Forwarded.
// Every value is network input: only well-formed addresses, "http"/"https" and host names are taken.
// Runs in each HTTP worker process, only for requests from a trusted proxy.

/** One hop as a proxy reported it; fields it did not give (or gave malformed) are null. */
export interface ForwardedHop {
  /** An IP address, without brackets or port; null for "unknown", an obfuscated name or garbage. */
  readonly address: string | null;
  readonly scheme: 'http' | 'https' | null;
  readonly host: string | null;
}

/** A list longer than this is cut from the left (the client's end): no proxy chain is that long. */
const MAXIMUM_HOPS = 64;

/** Every value of a header (all its lines, in order) as comma-separated items; raw names are any case. */
export function headerItems(rawHeaders: readonly string[], lowerName: string): string[] {
  const items: string[] = [];
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    const name = rawHeaders[index] ?? '';
    if (name.length !== lowerName.length || name.toLowerCase() !== lowerName) continue;
    for (const item of (rawHeaders[index + 1] ?? '').split(',')) items.push(item.trim());
  }
  return items.length > MAXIMUM_HOPS ? items.slice(-MAXIMUM_HOPS) : items;
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const IPV6_CHARACTERS = /^[0-9A-Fa-f:.]{2,45}$/;

/** "1.2.3.4", "1.2.3.4:80", "::1", "[::1]", "[::1]:80" -> the address; anything else -> null. */
export function forwardedAddress(text: string, isIPv6: (text: string) => boolean): string | null {
  if (IPV4.test(text)) return text;
  const bracketed = /^\[([^\]]{2,45})\](?::\d{1,5})?$/.exec(text);
  if (bracketed) return isIPv6(bracketed[1] ?? '') ? (bracketed[1] ?? null) : null;
  const withPort = /^([\d.]{7,15}):\d{1,5}$/.exec(text);
  if (withPort) return IPV4.test(withPort[1] ?? '') ? (withPort[1] ?? null) : null;
  return IPV6_CHARACTERS.test(text) && isIPv6(text) ? text : null;
}

export function forwardedScheme(text: string | undefined): 'http' | 'https' | null {
  const lower = text?.toLowerCase();
  return lower === 'https' || lower === 'http' ? lower : null;
}

/** A host as a URL authority may carry it: a name, an IPv4 address or [IPv6], and an optional port. */
const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

export function forwardedHost(text: string | undefined): string | null {
  return text !== undefined && text.length <= 255 && HOST.test(text) ? text : null;
}

/** X-Forwarded-For as hops; the scheme and host of X-Forwarded-Proto/-Host (their rightmost values). */
export function xForwardedHops(
  rawHeaders: readonly string[],
  isIPv6: (text: string) => boolean,
): { hops: ForwardedHop[]; scheme: ForwardedHop['scheme']; host: string | null } {
  const hops = headerItems(rawHeaders, 'x-forwarded-for').map((item) => ({
    address: forwardedAddress(item, isIPv6),
    scheme: null,
    host: null,
  }));
  return {
    hops,
    scheme: forwardedScheme(headerItems(rawHeaders, 'x-forwarded-proto').at(-1)),
    host: forwardedHost(headerItems(rawHeaders, 'x-forwarded-host').at(-1)),
  };
}

/** Splits on `separator` outside quoted strings (RFC 7230 quoted-string, with backslash escapes). */
function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let index = 0; index < text.length; index += 1) {
    const character = text[index] ?? '';
    if (quoted && character === '\\') {
      current += character + (text[index + 1] ?? '');
      index += 1;
    } else if (character === '"') {
      quoted = !quoted;
      current += character;
    } else if (!quoted && character === separator) {
      parts.push(current);
      current = '';
    } else {
      current += character;
    }
  }
  parts.push(current);
  return parts;
}

function unquote(value: string): string {
  if (value.length < 2 || !value.startsWith('"') || !value.endsWith('"')) return value;
  return value.slice(1, -1).replace(/\\(.)/g, '$1');
}

/** RFC 7239 Forwarded, every line in order: one hop per element, with its for=, proto= and host=. */
export function forwardedHops(rawHeaders: readonly string[], isIPv6: (text: string) => boolean): ForwardedHop[] {
  const hops: ForwardedHop[] = [];
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    const name = rawHeaders[index] ?? '';
    if (name.length !== 9 || name.toLowerCase() !== 'forwarded') continue;
    for (const element of splitOutsideQuotes(rawHeaders[index + 1] ?? '', ',')) {
      const pairs = new Map<string, string>();
      for (const pair of splitOutsideQuotes(element, ';')) {
        const equals = pair.indexOf('=');
        if (equals > 0) pairs.set(pair.slice(0, equals).trim().toLowerCase(), unquote(pair.slice(equals + 1).trim()));
      }
      const forValue = pairs.get('for');
      hops.push({
        address: forValue === undefined ? null : forwardedAddress(forValue, isIPv6),
        scheme: forwardedScheme(pairs.get('proto')),
        host: forwardedHost(pairs.get('host')),
      });
    }
  }
  return hops.length > MAXIMUM_HOPS ? hops.slice(-MAXIMUM_HOPS) : hops;
}

/**
 * Walks the hops from the right (the proxy nearest appd) while each is a trusted proxy itself: the
 * client is the first hop that is not, never one further left, which the client could have written.
 * A malformed or unknown hop ends the walk: the client is the last address known to be real (the
 * hop to its right). Returns the index of the client's hop, or -1 when the first hop is already unusable.
 */
export function clientHop(hops: readonly ForwardedHop[], trusts: (address: string) => boolean): number {
  let client = -1;
  for (let index = hops.length - 1; index >= 0; index -= 1) {
    const address = hops[index]?.address;
    if (address === null || address === undefined) break;
    client = index;
    if (!trusts(address)) break;
  }
  return client;
}
