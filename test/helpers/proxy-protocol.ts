// Builds PROXY protocol headers (v1 lines, v2 binary) and talks raw bytes to a server, the way HAProxy
// or a network load balancer opens a connection. Runs in the ava test process.

import net from 'node:net';

export interface V2Options {
  readonly command?: 'proxy' | 'local';
  /** IPv4 or IPv6 source address (the destination is the same family's loopback). */
  readonly source?: string;
  readonly port?: number;
  /** AF_UNIX addresses (two 108-byte paths) instead of IP ones. */
  readonly unixPaths?: boolean;
  readonly tlvs?: readonly (readonly [number, Buffer])[];
}

const SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

function ipv6Bytes(address: string): Buffer {
  const [head = '', tail] = address.split('::');
  const groups = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const bytes = Buffer.alloc(16);
  all.forEach((group, index) => bytes.writeUInt16BE(parseInt(group, 16), index * 2));
  return bytes;
}

export function proxyV2Header(options: V2Options): Buffer {
  const command = options.command === 'local' ? 0x20 : 0x21;
  let familyByte = 0x00;
  let addresses = Buffer.alloc(0);
  if (options.unixPaths) {
    familyByte = 0x31;
    addresses = Buffer.alloc(216);
    addresses.write('/run/client.sock');
  } else if (options.source !== undefined) {
    const ipv4 = net.isIPv4(options.source);
    familyByte = ipv4 ? 0x11 : 0x21;
    const source = ipv4 ? Buffer.from(options.source.split('.').map(Number)) : ipv6Bytes(options.source);
    const destination = ipv4 ? Buffer.from([127, 0, 0, 1]) : ipv6Bytes('::1');
    const ports = Buffer.alloc(4);
    ports.writeUInt16BE(options.port ?? 0, 0);
    ports.writeUInt16BE(80, 2);
    addresses = Buffer.concat([source, destination, ports]);
  }
  const tlvs = Buffer.concat(
    (options.tlvs ?? []).map(([type, value]) => {
      const header = Buffer.alloc(3);
      header[0] = type;
      header.writeUInt16BE(value.length, 1);
      return Buffer.concat([header, value]);
    }),
  );
  const fixed = Buffer.alloc(4);
  fixed[0] = command;
  fixed[1] = familyByte;
  fixed.writeUInt16BE(addresses.length + tlvs.length, 2);
  return Buffer.concat([SIGNATURE, fixed, addresses, tlvs]);
}

export function proxyV1Line(source: string, port: number): Buffer {
  const family = net.isIPv4(source) ? 'TCP4' : 'TCP6';
  return Buffer.from(`PROXY ${family} ${source} ${family === 'TCP4' ? '127.0.0.1' : '::1'} ${port} 80\r\n`);
}

export type RawTarget = { readonly port: number } | { readonly path: string };

/**
 * Connects, writes each chunk (waiting `pauseMs` between them, so they arrive as separate reads),
 * and collects what comes back until the server closes. Resolves with the bytes received.
 */
export function rawExchange(target: RawTarget, chunks: readonly (Buffer | string)[], pauseMs = 0, timeoutMs = 20_000): Promise<string> {
  return new Promise((settle, fail) => {
    const socket = 'port' in target ? net.connect(target.port, '127.0.0.1') : net.connect(target.path);
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      fail(new Error(`no close from the server within ${timeoutMs} ms; received ${JSON.stringify(received)}`));
    }, timeoutMs);
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => (received += text));
    // A reset is the server closing too: what counts is what arrived before it.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      settle(received);
    });
    socket.on('connect', () => {
      void (async () => {
        for (const chunk of chunks) {
          if (socket.destroyed) return;
          socket.write(chunk);
          if (pauseMs > 0) await new Promise((wake) => setTimeout(wake, pauseMs));
        }
      })();
    });
  });
}

/** The JSON bodies of every response in a raw HTTP/1.1 exchange (test fixtures answer one JSON line each). */
export function jsonBodies(exchange: string): unknown[] {
  return [...exchange.matchAll(/^(\{.*\})$/gm)].map((match) => JSON.parse(match[1] ?? 'null') as unknown);
}
