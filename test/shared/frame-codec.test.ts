// The control protocol's one codec on its own: round trips, frames split at every byte and coalesced
// into one chunk, the size limit checked from the header alone, and every kind of bad frame.

import test from 'ava';
import { encodeFrame, FrameDecoder, FrameError } from '../../shared/control/frame-codec.js';
import { parseClientMessage, ProtocolViolation } from '../../shared/control/message-guards.js';
import { MAX_REQUEST_FRAME_BYTES } from '../../shared/control/protocol.js';

const messages = [
  { type: 'hello', protocol: 1, client: 'appctl', pid: 42 },
  { type: 'request', id: 'V1StGXR8_Z5jdHi6B-myT', request: { command: 'scale', pool: 'web', change: { relative: -1 } } },
  { type: 'request', id: 'a', request: { command: 'logs', pool: null, lines: 100, follow: true } },
  { type: 'reply', id: 'a', outcome: { status: 'completed', message: 'ü ✓ '.repeat(1000), data: { list: [1, 2.5, null, true] } } },
];

test('a frame is a 4-byte big-endian length and one msgpack value', (t) => {
  const frame = encodeFrame({ type: 'hello' });
  t.is(frame.readUInt32BE(0), frame.length - 4);
  t.deepEqual(new FrameDecoder().push(frame), [{ type: 'hello' }]);
});

test('frames split at every possible byte boundary come out whole and in order', (t) => {
  const stream = Buffer.concat(messages.map((message) => encodeFrame(message)));
  const decoder = new FrameDecoder();
  const received: unknown[] = [];
  for (let offset = 0; offset < stream.length; offset += 1) received.push(...decoder.push(stream.subarray(offset, offset + 1)));
  t.deepEqual(received, messages);
  t.is(decoder.bufferedBytes, 0);
});

test('frames coalesced into one chunk, and cut at random places, all decode', (t) => {
  const stream = Buffer.concat(messages.map((message) => encodeFrame(message)));
  t.deepEqual(new FrameDecoder().push(stream), messages);
  for (let round = 0; round < 50; round += 1) {
    const decoder = new FrameDecoder();
    const received: unknown[] = [];
    let offset = 0;
    while (offset < stream.length) {
      const size = 1 + Math.floor(Math.random() * 700);
      received.push(...decoder.push(stream.subarray(offset, offset + size)));
      offset += size;
    }
    t.deepEqual(received, messages);
  }
});

test('a truncated frame yields nothing and keeps its bytes until the rest arrives', (t) => {
  const frame = encodeFrame(messages[1]);
  const decoder = new FrameDecoder();
  t.deepEqual(decoder.push(frame.subarray(0, 3)), []);
  t.deepEqual(decoder.push(frame.subarray(3, frame.length - 1)), []);
  t.is(decoder.bufferedBytes, frame.length - 1);
  t.deepEqual(decoder.push(frame.subarray(frame.length - 1)), [messages[1]]);
});

test('a length above the limit (4 GiB) is refused from the header alone, before any body is buffered', (t) => {
  const decoder = new FrameDecoder(MAX_REQUEST_FRAME_BYTES);
  const error = t.throws(() => decoder.push(Buffer.from([0xff, 0xff, 0xff, 0xff])), { instanceOf: FrameError });
  t.is(error?.code, 'frame_too_large');
  t.regex(error?.message ?? '', /4294967295 exceeds the limit of 65536/);
});

test('an empty frame, a body that is not msgpack, and trailing bytes inside a frame are bad frames', (t) => {
  const badBodies = [Buffer.alloc(0), Buffer.from([0xd9, 0x05, 0x61, 0x62]), Buffer.from([0x92, 0x01]), Buffer.from([0x01, 0x02])];
  for (const body of badBodies) {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(body.length);
    const error = t.throws(() => new FrameDecoder().push(Buffer.concat([header, body])), { instanceOf: FrameError });
    t.is(error?.code, 'bad_frame', body.toString('hex'));
  }
});

test('encoding refuses a message larger than the limit', (t) => {
  t.throws(() => encodeFrame({ text: 'x'.repeat(2000) }, 1000), { instanceOf: FrameError, message: /exceeds the 1000-byte frame limit/ });
});

test('message guards: unknown commands and bad arguments are named; shapes are checked', (t) => {
  t.deepEqual(parseClientMessage(messages[1]), messages[1]);
  const unknown = t.throws(() => parseClientMessage({ type: 'request', id: 'x1', request: { command: 'rm -rf' } }), {
    instanceOf: ProtocolViolation,
  });
  t.is(unknown?.code, 'unknown_command');
  t.is(unknown?.id, 'x1');
  const badScale = t.throws(
    () => parseClientMessage({ type: 'request', id: 'x2', request: { command: 'scale', pool: null, change: { relative: 1e9 } } }),
    { instanceOf: ProtocolViolation },
  );
  t.is(badScale?.code, 'bad_request');
  t.is(t.throws(() => parseClientMessage([1, 2, 3]), { instanceOf: ProtocolViolation })?.code, 'bad_message');
  t.is(
    t.throws(() => parseClientMessage({ type: 'request', id: '../../etc', request: { command: 'ping' } }), {
      instanceOf: ProtocolViolation,
    })?.code,
    'bad_message',
  );
  t.is(t.throws(() => parseClientMessage({ type: 'hello', protocol: '1' }), { instanceOf: ProtocolViolation })?.code, 'bad_message');
});
