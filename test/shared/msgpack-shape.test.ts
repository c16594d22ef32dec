// The msgpack shape check the control protocol runs before decoding (attack 7 of the security issue):
// every message the protocol sends passes; declared sizes larger than the bytes, deep nesting,
// truncation, trailing bytes and extension types are refused, each in one pass. Runs in-process.

import test from 'ava';
import { Packr } from 'msgpackr';
import { MAX_NESTING_DEPTH, msgpackShapeProblem } from '../../shared/control/msgpack-shape.js';

const packr = new Packr({ useRecords: false, structuredClone: false, mapsAsObjects: true, moreTypes: false });

test('every kind of value msgpackr writes for the protocol passes and decodes the same', (t) => {
  const samples: unknown[] = [
    null,
    true,
    false,
    0,
    127,
    128,
    255,
    65_535,
    2 ** 32,
    -1,
    -32,
    -33,
    -129,
    -40_000,
    -(2 ** 33),
    1.5,
    -0.25,
    1e300,
    '',
    'a',
    'x'.repeat(31),
    'x'.repeat(32),
    'x'.repeat(300),
    'x'.repeat(70_000),
    'é✓🙂',
    [],
    [1, 2, 3],
    Array.from({ length: 20 }, (_, index) => index),
    Array.from({ length: 70_000 }, () => 0),
    {},
    { type: 'hello', protocol: 1, client: 'appctl', pid: 42 },
    {
      type: 'reply',
      id: 'abc',
      outcome: {
        status: 'completed',
        message: 'done\nand more',
        data: { pools: [{ name: 'web', workers: [{ pid: 1, stats: { requests: 3 } }] }] },
      },
    },
    Object.fromEntries(Array.from({ length: 20 }, (_, index) => [`key${index}`, index])),
    Buffer.from([1, 2, 3]),
  ];
  for (const sample of samples) {
    const body = packr.pack(sample);
    t.is(msgpackShapeProblem(body), null, JSON.stringify(sample)?.slice(0, 80));
    t.deepEqual(packr.unpack(body), sample);
  }
});

test('sizes beyond the bytes, deep nesting, truncation, trailing bytes and extensions are refused', (t) => {
  t.regex(msgpackShapeProblem(Buffer.from([0xdc, 0x3e, 0x80, 0x01])) ?? '', /declares 16000 more element\(s\) but only 1 byte\(s\) follow/);
  t.regex(msgpackShapeProblem(Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff])) ?? '', /declares \d+ more element/);
  const nested = Buffer.alloc(MAX_NESTING_DEPTH + 2, 0x91);
  nested[nested.length - 1] = 0x01;
  t.regex(msgpackShapeProblem(nested) ?? '', new RegExp(`nested deeper than ${MAX_NESTING_DEPTH}`));
  t.is(msgpackShapeProblem(nested.subarray(1)), null, `${MAX_NESTING_DEPTH} levels are fine`);
  t.regex(msgpackShapeProblem(Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xff, 0x61])) ?? '', /declares 4294967295 byte\(s\) but only 1 follow/);
  t.regex(msgpackShapeProblem(Buffer.from([0x92, 0x01])) ?? '', /declares 2 more element|truncated/);
  t.regex(msgpackShapeProblem(Buffer.from([0x01, 0x02])) ?? '', /1 byte\(s\) after the end of the value/);
  t.regex(msgpackShapeProblem(Buffer.from([0xd6, 0xff, 0, 0, 0, 0])) ?? '', /extension type/);
  t.regex(msgpackShapeProblem(Buffer.from([0xc1])) ?? '', /not msgpack/);
  t.regex(msgpackShapeProblem(Buffer.from([0xda, 0x00])) ?? '', /truncated length/);
});
