// Unit tests of the PROXY protocol header parser (v1 and v2): valid headers of every kind, every way a
// header can be malformed or cut short, and the bounds it keeps. Runs in the ava test process.

import test from 'ava';
import { readProxyHeader, V1_MAXIMUM_LENGTH } from '../../daemon/worker/proxy/header-parser.js';
import { proxyV2Header } from '../helpers/proxy-protocol.js';

const request = Buffer.from('GET / HTTP/1.1\r\n\r\n');

test('v1: TCP4, TCP6 and UNKNOWN; the header length excludes what follows', (t) => {
  const tcp4 = Buffer.concat([Buffer.from('PROXY TCP4 203.0.113.9 192.0.2.1 51000 443\r\n'), request]);
  t.deepEqual(readProxyHeader(tcp4, 'auto'), {
    kind: 'header',
    length: 44,
    version: 1,
    source: { address: '203.0.113.9', port: 51000, family: 'IPv4' },
  });
  const tcp6 = Buffer.from('PROXY TCP6 2001:db8::7 2001:db8::1 65535 0\r\n');
  t.deepEqual(readProxyHeader(tcp6, 'v1'), {
    kind: 'header',
    length: tcp6.length,
    version: 1,
    source: { address: '2001:db8::7', port: 65535, family: 'IPv6' },
  });
  t.deepEqual(readProxyHeader(Buffer.from('PROXY UNKNOWN whatever\r\n'), 'auto'), { kind: 'header', length: 24, version: 1, source: null });
});

test('v1: malformed lines are invalid, short ones incomplete, long ones cut off at 107 bytes', (t) => {
  for (const line of [
    'PROXY TCP4 203.0.113.9 192.0.2.1 51000\r\n',
    'PROXY TCP4 203.0.113.9 192.0.2.1 51000 443 extra\r\n',
    'PROXY TCP4 2001:db8::7 192.0.2.1 1 2\r\n',
    'PROXY TCP6 203.0.113.9 192.0.2.1 1 2\r\n',
    'PROXY TCP4 203.0.113.9 192.0.2.1 65536 2\r\n',
    'PROXY TCP4 203.0.113.9 192.0.2.1 01 2\r\n',
    'PROXY UDP4 203.0.113.9 192.0.2.1 1 2\r\n',
    'PROXY TCP4  203.0.113.9 192.0.2.1 1 2\r\n',
    'PROXY TCP6 fe80::1%eth0 fe80::2 1 2\r\n',
  ]) {
    t.is(readProxyHeader(Buffer.from(line), 'auto').kind, 'invalid', line);
  }
  t.is(readProxyHeader(Buffer.from('PROX'), 'auto').kind, 'incomplete');
  t.is(readProxyHeader(Buffer.from('PROXY TCP4 203.0.113.9 192.0.2.1 51000 44'), 'auto').kind, 'incomplete');
  t.is(readProxyHeader(Buffer.from(`PROXY TCP4 ${'1'.repeat(V1_MAXIMUM_LENGTH)}`), 'auto').kind, 'invalid');
});

test('plain HTTP, TLS or anything else is refused from its first byte', (t) => {
  t.like(readProxyHeader(request, 'auto'), {
    kind: 'invalid',
    reason: 'expected a PROXY protocol header, got "GET / HTTP/1.1\\x0d\\x0a\\x0d\\x0a"',
  });
  t.is(readProxyHeader(Buffer.from([0x16, 0x03, 0x01]), 'auto').kind, 'invalid');
  t.is(readProxyHeader(Buffer.from('G'), 'auto').kind, 'invalid');
  t.is(readProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4 1.2.3.4 1 2\r\n'), 'v2').kind, 'invalid', 'v1 where only v2 is accepted');
  t.is(readProxyHeader(proxyV2Header({ source: '203.0.113.9', port: 1 }), 'v1').kind, 'invalid', 'v2 where only v1 is accepted');
});

test('v2: IPv4, IPv6, TLVs skipped, LOCAL and AF_UNIX keep the peer', (t) => {
  const ipv4 = Buffer.concat([
    proxyV2Header({
      source: '203.0.113.9',
      port: 51000,
      tlvs: [
        [0x01, Buffer.from('h2')],
        [0x02, Buffer.from('shop.example')],
      ],
    }),
    request,
  ]);
  t.like(readProxyHeader(ipv4, 'auto'), { kind: 'header', version: 2, source: { address: '203.0.113.9', port: 51000, family: 'IPv4' } });
  const reading = readProxyHeader(ipv4, 'v2');
  t.is(reading.kind === 'header' ? ipv4.subarray(reading.length).toString() : '', request.toString());
  t.like(readProxyHeader(proxyV2Header({ source: '2001:db8::7', port: 443 }), 'auto'), {
    kind: 'header',
    source: { address: '2001:db8::7', port: 443, family: 'IPv6' },
  });
  t.like(readProxyHeader(proxyV2Header({ command: 'local' }), 'auto'), { kind: 'header', source: null });
  t.like(readProxyHeader(proxyV2Header({ unixPaths: true }), 'auto'), { kind: 'header', source: null });
});

test('v2: every field is checked against its bounds', (t) => {
  const valid = proxyV2Header({ source: '203.0.113.9', port: 1, tlvs: [[0x04, Buffer.alloc(4)]] });
  const changed = (offset: number, value: number): Buffer => {
    const copy = Buffer.from(valid);
    copy[offset] = value;
    return copy;
  };
  t.regex((readProxyHeader(changed(12, 0x11), 'auto') as { reason: string }).reason, /version 1/);
  t.regex((readProxyHeader(changed(12, 0x22), 'auto') as { reason: string }).reason, /command 2/);
  t.regex((readProxyHeader(changed(13, 0x12), 'auto') as { reason: string }).reason, /datagram/);
  t.regex((readProxyHeader(changed(13, 0x41), 'auto') as { reason: string }).reason, /undefined/);
  // A declared length shorter than the address block, and a TLV running past the header.
  const short = Buffer.from(valid);
  short.writeUInt16BE(8, 14);
  t.regex((readProxyHeader(short, 'auto') as { reason: string }).reason, /fewer than the 12/);
  const overrun = Buffer.from(valid);
  overrun.writeUInt16BE(200, valid.length - 6);
  t.regex((readProxyHeader(overrun, 'auto') as { reason: string }).reason, /TLV longer/);
  // Cut anywhere before its end, a valid header is only incomplete.
  for (let length = 1; length < valid.length; length += 1)
    t.is(readProxyHeader(valid.subarray(0, length), 'auto').kind, 'incomplete', `cut at ${length}`);
  // The largest length v2 can declare is still read to its end, not past it.
  const huge = Buffer.concat([valid.subarray(0, 16), Buffer.alloc(0xffff)]);
  huge.writeUInt16BE(0xffff, 14);
  huge[13] = 0x00; // UNSPEC: no addresses to read
  t.like(readProxyHeader(Buffer.concat([huge, request]), 'auto'), { kind: 'header', length: 16 + 0xffff });
});
