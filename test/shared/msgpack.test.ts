// The control protocol's own msgpack codec against msgpackr (its pure-JS entry, what the frame codec used) with the options the protocol used: the same
// bytes for every value it encodes, the same value for every body msgpackr wrote. Runs in-process.

import test from 'ava';
import { Packr } from 'msgpackr/pack';
import { decodeValue, encodeValue } from '../../shared/control/msgpack.js';

const packr = new Packr({ useRecords: false, structuredClone: false, mapsAsObjects: true, moreTypes: false });

const samples: unknown[] = [
  null,
  true,
  false,
  0,
  -0,
  31,
  32,
  127,
  128,
  255,
  256,
  65_535,
  65_536,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 53 + 2,
  -1,
  -32,
  -33,
  -128,
  -129,
  -32_768,
  -32_769,
  -(2 ** 31),
  -(2 ** 31) - 1,
  -(2 ** 33),
  1.5,
  -0.25,
  1e300,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  5n,
  -(2n ** 63n),
  2n ** 64n - 1n,
  '',
  'a',
  'x'.repeat(31),
  'x'.repeat(32),
  'x'.repeat(63),
  'x'.repeat(64),
  'x'.repeat(255),
  'x'.repeat(256),
  'x'.repeat(70_000),
  'é✓🙂',
  'é'.repeat(40),
  '✓'.repeat(100),
  '\ud800 lone high, lone low \udc00',
  `${'\ud83d'.repeat(10)}${'x'.repeat(60)}`,
  'ctrl \u001b[31m red \u0007 bell \u0000 nul',
  [],
  [1, 2, 3],
  Array.from({ length: 15 }, (_, index) => index),
  Array.from({ length: 16 }, (_, index) => index),
  Array.from({ length: 70_000 }, () => 0),
  {},
  { type: 'hello', protocol: 1, client: 'appctl', pid: 42 },
  { type: 'request', id: 'V1StGXR8_Z5jdHi6B-myT', request: { command: 'scale', pool: 'web', change: { relative: -1 } } },
  {
    type: 'reply',
    id: 'abc',
    outcome: {
      status: 'completed',
      message: 'done\nand more',
      data: { pools: [{ name: 'web', workers: [{ pid: 1, stats: { requests: 3, rss: 63_300_000, cpu: 0.079 } }] }] },
    },
  },
  Object.fromEntries(Array.from({ length: 20 }, (_, index) => [`key${index}`, index])),
  Object.assign(Object.create(null) as object, { bare: 1 }),
  {
    when: new (class Moment {
      toJSON(): string {
        return 'as json';
      }
    })(),
  },
  Buffer.from([1, 2, 3]),
  Buffer.alloc(300, 7),
];

function describe(value: unknown): string {
  return (JSON.stringify(value, (_, inner: unknown) => (typeof inner === 'bigint' ? `${inner}n` : inner)) ?? String(value)).slice(0, 80);
}

test('it writes the bytes msgpackr wrote, and reads them back as msgpackr does', (t) => {
  for (const sample of samples) {
    const expected = packr.pack(sample);
    t.deepEqual(encodeValue(sample), expected, describe(sample));
    t.deepEqual(decodeValue(expected), packr.unpack(expected), describe(sample));
  }
  // A function (here a plain object's toJSON) is msgpackr's undefined, an extension no frame may carry.
  const withFunction = { when: { toJSON: () => 'as json' } };
  t.deepEqual(encodeValue(withFunction), packr.pack(withFunction));
});

/** A deterministic generator: the same values on every run, so a failure reproduces. */
function generator(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

function randomValue(random: () => number, depth: number): unknown {
  const kind = Math.floor(random() * (depth > 3 ? 5 : 7));
  const size = (max: number): number => Math.floor(random() * random() * max);
  switch (kind) {
    case 0:
      return [null, true, false][Math.floor(random() * 3)];
    case 1:
      return Math.floor((random() - 0.5) * 2 ** Math.floor(random() * 40));
    case 2:
      return (random() - 0.5) * 10 ** Math.floor(random() * 20);
    case 3:
    case 4:
      // Any UTF-16 code unit, lone surrogates included; lengths across every string header.
      return String.fromCharCode(
        ...Array.from({ length: size(random() < 0.9 ? 80 : 400) }, () => Math.floor(random() * (random() < 0.7 ? 0x80 : 0x10000))),
      );
    case 5:
      return Array.from({ length: size(20) }, () => randomValue(random, depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: size(20) }, () => [String(randomValue(random, 4)), randomValue(random, depth + 1)]));
  }
}

test('3,000 generated values: the same bytes as msgpackr, and the same values read back', (t) => {
  const random = generator(21);
  for (let round = 0; round < 3_000; round += 1) {
    const value = randomValue(random, 0);
    const expected = packr.pack(value);
    const actual = encodeValue(value);
    if (!actual.equals(expected)) {
      t.fail(`round ${round}: ${describe(value)}: ${actual.toString('hex').slice(0, 80)} != ${expected.toString('hex').slice(0, 80)}`);
      return;
    }
    const decoded = decodeValue(expected);
    const reference = packr.unpack(expected) as unknown;
    if (JSON.stringify(decoded) !== JSON.stringify(reference)) {
      t.fail(`round ${round}: decoded ${describe(decoded)} != ${describe(reference)}`);
      return;
    }
  }
  t.pass();
});

test('invalid UTF-8 inside a string reads as msgpackr reads it; __proto__ never becomes a prototype; trailing bytes are refused', (t) => {
  for (const bytes of [
    [0xc0, 0x80], // overlong
    [0xed, 0xa0, 0x80], // a surrogate
    [0xf8, 0x41], // no such lead byte
    [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
  ]) {
    for (const padding of [0, 70]) {
      const content = Buffer.from([...Buffer.alloc(padding, 0x61), ...bytes]);
      const body = Buffer.concat([Buffer.from([0xd9, content.length]), content]);
      t.is(decodeValue(body), packr.unpack(body), `${Buffer.from(bytes).toString('hex')} after ${padding} bytes`);
    }
  }
  const hostile = Buffer.from([0x81, 0xa9, ...Buffer.from('__proto__'), 0x81, 0xa1, 0x78, 0x01]);
  const decoded = decodeValue(hostile) as Record<string, unknown>;
  t.deepEqual(decoded, packr.unpack(hostile));
  t.is(Object.getPrototypeOf(decoded), Object.prototype);
  t.deepEqual(Object.keys(decoded), ['__proto_']);
  t.throws(() => decodeValue(Buffer.from([0x01, 0x02])), { message: /bytes left after the end/ });
  t.throws(() => decodeValue(Buffer.from([0x92, 0x01])), { message: /unexpected end/ });
  t.throws(() => decodeValue(Buffer.from([0xd4, 0x00, 0x00])), { message: /not a msgpack value the protocol uses/ });
});
