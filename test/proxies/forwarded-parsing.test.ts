// Unit tests of the trusted-proxy list (addresses, CIDR ranges, IPv4-mapped peers) and of reading
// X-Forwarded-* and Forwarded headers: rightmost untrusted hop, malformed values ignored.
// Runs in the ava test process (no daemon).

import test from 'ava';
import { isIPv6 } from 'node:net';
import { InvalidTrustedProxy, TrustedProxies, normaliseTrustedProxies, parseAddress } from '../../shared/trusted-proxies.js';
import { clientHop, forwardedAddress, forwardedHops, xForwardedHops } from '../../daemon/worker/proxy/forwarded-headers.js';

test('trusted proxies: exact addresses match in both forms a socket reports them', (t) => {
  const list = new TrustedProxies('127.0.0.1,::1');
  t.true(list.trusts('127.0.0.1'));
  t.true(list.trusts('::ffff:127.0.0.1'));
  t.true(list.trusts('::1'));
  t.false(list.trusts('127.0.0.2'));
  t.false(list.trusts('::2'));
  t.false(list.trusts('not an address'));
});

test('trusted proxies: CIDR ranges, IPv6 ranges, mapped ranges and "*"', (t) => {
  const list = new TrustedProxies(' 10.0.0.0/8, fd00::/8 ,::ffff:192.168.0.0/112, 172.16.5.4/32');
  t.true(list.trusts('10.200.3.4'));
  t.true(list.trusts('::ffff:10.200.3.4'));
  t.false(list.trusts('11.0.0.1'));
  t.true(list.trusts('fd12:3456::1'));
  t.false(list.trusts('fe80::1'));
  t.true(list.trusts('192.168.7.9'));
  t.false(list.trusts('192.169.0.1'));
  t.true(list.trusts('172.16.5.4'));
  t.false(list.trusts('172.16.5.5'));
  const everyone = new TrustedProxies('*');
  t.true(everyone.trusts('203.0.113.9'));
  t.true(everyone.trusts('2001:db8::1'));
  t.false(everyone.trusts('garbage'), '"*" trusts every address, not every string');
  t.false(new TrustedProxies('').trusts('127.0.0.1'), 'an empty list trusts nobody');
});

test('trusted proxies: a bad item is named', (t) => {
  for (const [list, culprit] of [
    ['127.0.0.1,10.0.0.0/33', '10.0.0.0/33'],
    ['localhost', 'localhost'],
    ['10.0.0.1/x', '10.0.0.1/x'],
    ['::1/129', '::1/129'],
    ['1.2.3.4.5', '1.2.3.4.5'],
  ] as const) {
    const error = t.throws(() => normaliseTrustedProxies(list), { instanceOf: InvalidTrustedProxy });
    t.true(error?.message.includes(`"${culprit}"`), error?.message);
  }
  t.is(normaliseTrustedProxies(' 127.0.0.1 ,, ::1 '), '127.0.0.1,::1');
});

test('addresses parse strictly; IPv4-mapped IPv6 is the IPv4 host', (t) => {
  t.deepEqual(parseAddress('::ffff:1.2.3.4'), { family: 4, value: 0x01020304 });
  t.deepEqual(parseAddress('::ffff:102:304'), { family: 4, value: 0x01020304 });
  t.deepEqual(parseAddress('2001:db8::1'), { family: 6, value: (0x20010db8n << 96n) | 1n });
  t.deepEqual(parseAddress('fe80::1%eth0'), { family: 6, value: (0xfe80n << 112n) | 1n });
  t.is(parseAddress('256.1.1.1'), null);
  t.is(parseAddress('1.2.3'), null);
});

test('forwarded addresses: ports and brackets are dropped, anything else is not an address', (t) => {
  t.is(forwardedAddress('203.0.113.9', isIPv6), '203.0.113.9');
  t.is(forwardedAddress('203.0.113.9:5123', isIPv6), '203.0.113.9');
  t.is(forwardedAddress('2001:db8::7', isIPv6), '2001:db8::7');
  t.is(forwardedAddress('[2001:db8::7]:443', isIPv6), '2001:db8::7');
  for (const bad of ['unknown', '_hidden', '', '1.2.3.999', '<script>', '203.0.113.9 extra', '[nope]'])
    t.is(forwardedAddress(bad, isIPv6), null, bad);
});

const trusted = new TrustedProxies('127.0.0.1,10.0.0.0/8');
const trusts = (address: string): boolean => trusted.trusts(address);

test('X-Forwarded-For: the client is the rightmost address that is not a trusted proxy', (t) => {
  const client = (...lines: string[]): string | null => {
    const { hops } = xForwardedHops(
      lines.flatMap((line) => ['X-Forwarded-For', line]),
      isIPv6,
    );
    return hops[clientHop(hops, trusts)]?.address ?? null;
  };
  // A client that writes its own X-Forwarded-For gets it appended to, never believed.
  t.is(client('203.0.113.9, 198.51.100.7'), '198.51.100.7');
  t.is(client('203.0.113.9, 198.51.100.7, 10.1.1.1'), '198.51.100.7', 'trusted hops are skipped');
  t.is(client('203.0.113.9', '198.51.100.7, 10.1.1.1'), '198.51.100.7', 'several header lines are one list');
  t.is(client('10.1.1.2, 10.1.1.1'), '10.1.1.2', 'all trusted: the leftmost');
  t.is(client('garbage, 10.1.1.1'), '10.1.1.1', 'a malformed hop ends the walk at the last real address');
  t.is(client('garbage'), null, 'nothing usable: the peer stays the client');
});

test('X-Forwarded-Proto and -Host: the rightmost value, only well-formed', (t) => {
  const read = (headers: string[]): { scheme: string | null; host: string | null } => {
    const { scheme, host } = xForwardedHops(headers, isIPv6);
    return { scheme, host };
  };
  t.deepEqual(read(['X-Forwarded-Proto', 'http, https', 'x-forwarded-host', 'shop.example:8443']), {
    scheme: 'https',
    host: 'shop.example:8443',
  });
  t.deepEqual(read(['X-Forwarded-Proto', 'javascript', 'X-Forwarded-Host', 'evil.example/path']), { scheme: null, host: null });
  t.deepEqual(read(['X-Forwarded-Host', '[2001:db8::1]:80']), { scheme: null, host: '[2001:db8::1]:80' });
});

test('Forwarded (RFC 7239): for=, proto=, host= of the element naming the client', (t) => {
  const raw = [
    'Forwarded',
    'for=203.0.113.9;proto=http',
    'forwarded',
    'For="[2001:db8:cafe::17]:4711";Proto=https;host="shop.example", for=10.1.1.1;proto=http',
  ];
  const hops = forwardedHops(raw, isIPv6);
  t.is(hops.length, 3);
  const index = clientHop(hops, trusts);
  t.deepEqual(hops[index], { address: '2001:db8:cafe::17', scheme: 'https', host: 'shop.example' });
  const quotedComma = forwardedHops(['Forwarded', 'for="_a,b";proto=https, for=198.51.100.7'], isIPv6);
  t.is(quotedComma.length, 2, 'a comma inside quotes does not split elements');
  t.is(quotedComma[0]?.address, null);
  t.is(quotedComma[1]?.address, '198.51.100.7');
});
