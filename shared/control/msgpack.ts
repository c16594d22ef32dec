// The msgpack encoder and decoder of the control protocol: plain maps, arrays, strings, numbers, booleans,
// nil and bin, byte for byte what msgpackr wrote and read with the protocol's options. Used by the frame codec (master and appctl).
//
// msgpackr is ~80 KB of code in 4 modules, most of it for records, extensions, bundled strings and the
// native string extractor, none of which the protocol uses; appctl paid its loading on every run. Every
// body reaching decodeValue has passed msgpackShapeProblem (sizes, depth, no extension types).

/** Thrown for bytes that are not one msgpack value of the kinds above. */
export class MsgpackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MsgpackError';
  }
}

/** msgpackr writes strings shorter than this with its own loop (lone surrogates as 3 bytes), longer ones as UTF-8. */
const SHORT_STRING_CHARS = 0x40;

/**
 * One scratch buffer for every encoding (encoding never nests), kept up to this size: a message is
 * written here, then copied once into a buffer of its exact size. Growing a fresh buffer per message
 * left the garbage of every doubling behind (the master's RSS under 128 clients that never read).
 */
const KEPT_SCRATCH_BYTES = 1024 * 1024;
let scratch = Buffer.allocUnsafeSlow(16 * 1024);

class Writer {
  #buffer = scratch;
  #length: number;

  constructor(reserve: number) {
    this.#length = reserve;
  }

  /** The bytes written, in a buffer of their own (the reserved leading bytes included, unset). */
  bytes(): Buffer {
    const result = Buffer.allocUnsafe(this.#length);
    this.#buffer.copy(result, 0, 0, this.#length);
    if (this.#buffer.length <= KEPT_SCRATCH_BYTES) scratch = this.#buffer;
    return result;
  }

  #room(bytes: number): Buffer {
    if (this.#length + bytes > this.#buffer.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(this.#buffer.length * 2, this.#length + bytes));
      this.#buffer.copy(grown, 0, 0, this.#length);
      this.#buffer = grown;
    }
    return this.#buffer;
  }

  byte(value: number): void {
    this.#room(1)[this.#length++] = value;
  }

  header(marker: number, value: number, bytes: 1 | 2 | 4): void {
    const buffer = this.#room(1 + bytes);
    buffer[this.#length++] = marker;
    buffer.writeUIntBE(value, this.#length, bytes);
    this.#length += bytes;
  }

  integer(marker: 0xd0 | 0xd1 | 0xd2, value: number): void {
    const bytes = marker === 0xd0 ? 1 : marker === 0xd1 ? 2 : 4;
    const buffer = this.#room(1 + bytes);
    buffer[this.#length++] = marker;
    buffer.writeIntBE(value, this.#length, bytes);
    this.#length += bytes;
  }

  double(value: number): void {
    const buffer = this.#room(9);
    buffer[this.#length++] = 0xcb;
    buffer.writeDoubleBE(value, this.#length);
    this.#length += 8;
  }

  bigint(value: bigint): void {
    const buffer = this.#room(9);
    if (value < 0x8000000000000000n && value >= -0x8000000000000000n) {
      buffer[this.#length++] = 0xd3;
      buffer.writeBigInt64BE(value, this.#length);
    } else if (value < 0x10000000000000000n && value > 0n) {
      buffer[this.#length++] = 0xcf;
      buffer.writeBigUInt64BE(value, this.#length);
    } else throw new MsgpackError(`${value} does not fit a msgpack 64-bit integer`);
    this.#length += 8;
  }

  /** The smallest header for the byte length, then the UTF-8 bytes, written in place. */
  string(value: string): void {
    if (value.length < SHORT_STRING_CHARS) {
      // At most 63 * 3 bytes: a fixstr or str 8 header. Written after 2 bytes, moved back for a fixstr.
      const buffer = this.#room(2 + value.length * 3);
      const length = writeShortString(buffer, this.#length + 2, value);
      if (length < 0x20) {
        buffer.copyWithin(this.#length + 1, this.#length + 2, this.#length + 2 + length);
        buffer[this.#length] = 0xa0 | length;
        this.#length += 1 + length;
      } else {
        buffer[this.#length] = 0xd9;
        buffer[this.#length + 1] = length;
        this.#length += 2 + length;
      }
      return;
    }
    const length = Buffer.byteLength(value, 'utf8');
    if (length < 0x100) this.header(0xd9, length, 1);
    else if (length < 0x10000) this.header(0xda, length, 2);
    else this.header(0xdb, length, 4);
    this.#length += this.#room(length).write(value, this.#length, length, 'utf8');
  }

  raw(bytes: Uint8Array): void {
    this.#room(bytes.length).set(bytes, this.#length);
    this.#length += bytes.length;
  }
}

/** UTF-8 as msgpackr's short-string loop writes it (a lone surrogate becomes its own 3 bytes, not U+FFFD); returns the byte count. */
function writeShortString(bytes: Buffer, start: number, value: string): number {
  let at = start;
  for (let index = 0; index < value.length; index += 1) {
    let code = value.charCodeAt(index);
    if (code < 0x80) bytes[at++] = code;
    else if (code < 0x800) {
      bytes[at++] = (code >> 6) | 0xc0;
      bytes[at++] = (code & 0x3f) | 0x80;
    } else if ((code & 0xfc00) === 0xd800 && (value.charCodeAt(index + 1) & 0xfc00) === 0xdc00) {
      code = 0x10000 + ((code & 0x03ff) << 10) + (value.charCodeAt(index + 1) & 0x03ff);
      index += 1;
      bytes[at++] = (code >> 18) | 0xf0;
      bytes[at++] = ((code >> 12) & 0x3f) | 0x80;
      bytes[at++] = ((code >> 6) & 0x3f) | 0x80;
      bytes[at++] = (code & 0x3f) | 0x80;
    } else {
      bytes[at++] = (code >> 12) | 0xe0;
      bytes[at++] = ((code >> 6) & 0x3f) | 0x80;
      bytes[at++] = (code & 0x3f) | 0x80;
    }
  }
  return at - start;
}

function writeValue(writer: Writer, value: unknown): void {
  switch (typeof value) {
    case 'string':
      writer.string(value);
      return;
    case 'number':
      if (value >>> 0 === value) {
        if (value < 0x80) writer.byte(value);
        else if (value < 0x100) writer.header(0xcc, value, 1);
        else if (value < 0x10000) writer.header(0xcd, value, 2);
        else writer.header(0xce, value, 4);
      } else if (value >> 0 === value) {
        if (value >= -0x20) writer.byte(0x100 + value);
        else if (value >= -0x80) writer.integer(0xd0, value);
        else if (value >= -0x8000) writer.integer(0xd1, value);
        else writer.integer(0xd2, value);
      } else writer.double(value);
      return;
    case 'boolean':
      writer.byte(value ? 0xc3 : 0xc2);
      return;
    case 'bigint':
      writer.bigint(value);
      return;
    case 'function':
    case 'undefined':
      // msgpackr's undefined (fixext 1, type 0): the shape check refuses it, as it refuses every extension.
      writer.raw(Uint8Array.of(0xd4, 0, 0));
      return;
    case 'object':
      if (value === null) writer.byte(0xc0);
      else if (Array.isArray(value)) {
        if (value.length < 0x10) writer.byte(0x90 | value.length);
        else if (value.length < 0x10000) writer.header(0xdc, value.length, 2);
        else writer.header(0xdd, value.length, 4);
        for (const item of value) writeValue(writer, item);
      } else if (value instanceof Uint8Array) {
        if (value.length < 0x100) writer.header(0xc4, value.length, 1);
        else if (value.length < 0x10000) writer.header(0xc5, value.length, 2);
        else writer.header(0xc6, value.length, 4);
        writer.raw(value);
      } else {
        // As msgpackr: a plain object's own enumerable properties; an instance of a class it has no extension
        // for, its toJSON() if it has one.
        const toJSON: unknown = (value as { toJSON?: unknown }).toJSON;
        if (typeof toJSON === 'function' && Object.getPrototypeOf(value) !== Object.prototype) {
          const json: unknown = toJSON.call(value);
          if (json !== value) {
            writeValue(writer, json);
            return;
          }
        }
        // msgpackr (records off) always writes a map 16 header, whatever the number of keys.
        const keys = Object.keys(value);
        if (keys.length > 0xffff) throw new MsgpackError(`an object of ${keys.length} keys is too large for a map 16`);
        writer.header(0xde, keys.length, 2);
        for (const key of keys) {
          writer.string(key);
          writeValue(writer, (value as Record<string, unknown>)[key]);
        }
      }
      return;
    default:
      throw new MsgpackError(`cannot encode a ${typeof value}`);
  }
}

/** The msgpack bytes of one value, after `reserve` leading bytes left for the caller (a frame's header). */
export function encodeValue(value: unknown, reserve = 0): Buffer {
  const writer = new Writer(reserve);
  writeValue(writer, value);
  return writer.bytes();
}

const utf8 = new TextDecoder();

class Reader {
  #at = 0;
  readonly #bytes: Buffer;

  constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }

  get done(): boolean {
    return this.#at >= this.#bytes.length;
  }

  #need(count: number): number {
    const at = this.#at;
    if (at + count > this.#bytes.length) throw new MsgpackError('unexpected end of msgpack data');
    this.#at += count;
    return at;
  }

  value(): unknown {
    const marker = this.#bytes[this.#need(1)] as number;
    if (marker < 0x80) return marker;
    if (marker < 0x90) return this.#map(marker & 0x0f);
    if (marker < 0xa0) return this.#array(marker & 0x0f);
    if (marker < 0xc0) return this.#string(marker & 0x1f);
    if (marker >= 0xe0) return marker - 0x100;
    const bytes = this.#bytes;
    switch (marker) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.#bin(bytes.readUInt8(this.#need(1)));
      case 0xc5:
        return this.#bin(bytes.readUInt16BE(this.#need(2)));
      case 0xc6:
        return this.#bin(bytes.readUInt32BE(this.#need(4)));
      case 0xca:
        return bytes.readFloatBE(this.#need(4));
      case 0xcb:
        return bytes.readDoubleBE(this.#need(8));
      case 0xcc:
        return bytes.readUInt8(this.#need(1));
      case 0xcd:
        return bytes.readUInt16BE(this.#need(2));
      case 0xce:
        return bytes.readUInt32BE(this.#need(4));
      case 0xcf:
        return bytes.readBigUInt64BE(this.#need(8));
      case 0xd0:
        return bytes.readInt8(this.#need(1));
      case 0xd1:
        return bytes.readInt16BE(this.#need(2));
      case 0xd2:
        return bytes.readInt32BE(this.#need(4));
      case 0xd3:
        return bytes.readBigInt64BE(this.#need(8));
      case 0xd9:
        return this.#string(bytes.readUInt8(this.#need(1)));
      case 0xda:
        return this.#string(bytes.readUInt16BE(this.#need(2)));
      case 0xdb:
        return this.#string(bytes.readUInt32BE(this.#need(4)));
      case 0xdc:
        return this.#array(bytes.readUInt16BE(this.#need(2)));
      case 0xdd:
        return this.#array(bytes.readUInt32BE(this.#need(4)));
      case 0xde:
        return this.#map(bytes.readUInt16BE(this.#need(2)));
      case 0xdf:
        return this.#map(bytes.readUInt32BE(this.#need(4)));
      default:
        throw new MsgpackError(`byte 0x${marker.toString(16)} is not a msgpack value the protocol uses`);
    }
  }

  #array(count: number): unknown[] {
    const array = new Array<unknown>(count);
    for (let index = 0; index < count; index += 1) array[index] = this.value();
    return array;
  }

  #map(count: number): Record<string, unknown> {
    const object: Record<string, unknown> = {};
    for (let index = 0; index < count; index += 1) {
      let key = mapKey(this.value());
      // As msgpackr: a key named __proto__ would set the object's prototype.
      if (key === '__proto__') key = '__proto_';
      object[key] = this.value();
    }
    return object;
  }

  #bin(length: number): Buffer {
    const at = this.#need(length);
    return Buffer.from(this.#bytes.subarray(at, at + length));
  }

  #string(length: number): string {
    const at = this.#need(length);
    return length > 64 ? utf8.decode(this.#bytes.subarray(at, at + length)) : shortString(this.#bytes, at, at + length);
  }
}

/** A map key as msgpackr makes one: strings as they are, numbers, booleans, nil and bigints as text. */
function mapKey(key: unknown): string {
  if (typeof key === 'string') return key;
  if (typeof key === 'number' || typeof key === 'boolean' || typeof key === 'bigint' || key === null) return String(key);
  throw new MsgpackError(`a map key of type ${Array.isArray(key) ? 'array' : typeof key}`);
}

/** UTF-8 decoded as msgpackr decodes strings of up to 64 bytes (an invalid sequence becomes U+FFFD). */
function shortString(bytes: Buffer, start: number, end: number): string {
  const units: number[] = [];
  let at = start;
  // A sequence cut short by the end of the string reads zeros (msgpackr would read on into the next value).
  const next = (): number => {
    const byte = at < end ? (bytes[at] as number) & 0x3f : 0;
    at += 1;
    return byte;
  };
  while (at < end) {
    const first = bytes[at++] as number;
    if ((first & 0x80) === 0) units.push(first);
    else if ((first & 0xe0) === 0xc0) {
      const code = ((first & 0x1f) << 6) | next();
      units.push(code < 0x80 ? 0xfffd : code);
    } else if ((first & 0xf0) === 0xe0) {
      const code = ((first & 0x1f) << 12) | (next() << 6) | next();
      units.push(code < 0x800 || (code >= 0xd800 && code <= 0xdfff) ? 0xfffd : code);
    } else if ((first & 0xf8) === 0xf0) {
      let code = ((first & 0x07) << 18) | (next() << 12) | (next() << 6) | next();
      if (code < 0x10000 || code > 0x10ffff) units.push(0xfffd);
      else {
        code -= 0x10000;
        units.push(((code >>> 10) & 0x3ff) | 0xd800, 0xdc00 | (code & 0x3ff));
      }
    } else units.push(0xfffd);
  }
  return String.fromCharCode(...units);
}

/** The one msgpack value that fills `body`. */
export function decodeValue(body: Buffer): unknown {
  const reader = new Reader(body);
  const value = reader.value();
  if (!reader.done) throw new MsgpackError('bytes left after the end of the value');
  return value;
}
