// Checks a msgpack body's shape before it is decoded: every declared container and string fits in the
// bytes that follow, nesting stays shallow, exactly one value fills the body. Used by the frame
// decoder in the appd master and in appctl.
//
// A decoder preallocates what a header declares: 21,000 nested array headers of 16,000 elements each
// (63 KB) took the master 1.7 s and 400 MB (issue 13). No element takes less than one byte, so a
// body of N bytes may declare at most N elements in all; checked in one pass, with no allocation.

/** Deep enough for any message of the protocol (a status snapshot nests about six levels). */
export const MAX_NESTING_DEPTH = 32;

/** Why the body is refused, or null when it may be decoded. */
export function msgpackShapeProblem(body: Uint8Array, maxDepth: number = MAX_NESTING_DEPTH): string | null {
  const length = body.length;
  /** Children still to come in each open container, innermost last. */
  const open: number[] = [];
  /** Values not yet started anywhere in the body (the root counts as one). */
  let pending = 1;
  let offset = 0;
  const readLength = (bytes: 1 | 2 | 4): number | null => {
    if (offset + bytes > length) return null;
    const view = new DataView(body.buffer, body.byteOffset + offset, bytes);
    offset += bytes;
    return bytes === 1 ? view.getUint8(0) : bytes === 2 ? view.getUint16(0) : view.getUint32(0);
  };
  while (offset < length) {
    if (pending === 0) return `${length - offset} byte(s) after the end of the value`;
    const byte = body[offset] as number;
    offset += 1;
    pending -= 1;
    let children = 0;
    let payload: number | null = 0;
    if (byte <= 0x7f || byte >= 0xe0 || byte === 0xc0 || byte === 0xc2 || byte === 0xc3) payload = 0;
    else if (byte >= 0x80 && byte <= 0x8f) children = 2 * (byte & 0x0f);
    else if (byte >= 0x90 && byte <= 0x9f) children = byte & 0x0f;
    else if (byte >= 0xa0 && byte <= 0xbf) payload = byte & 0x1f;
    else {
      switch (byte) {
        case 0xc4:
        case 0xd9:
          payload = readLength(1);
          break;
        case 0xc5:
        case 0xda:
          payload = readLength(2);
          break;
        case 0xc6:
        case 0xdb:
          payload = readLength(4);
          break;
        case 0xcc:
        case 0xd0:
          payload = 1;
          break;
        case 0xcd:
        case 0xd1:
          payload = 2;
          break;
        case 0xca:
        case 0xce:
        case 0xd2:
          payload = 4;
          break;
        case 0xcb:
        case 0xcf:
        case 0xd3:
          payload = 8;
          break;
        case 0xdc: {
          const count = readLength(2);
          if (count === null) return 'truncated array header';
          children = count;
          break;
        }
        case 0xdd: {
          const count = readLength(4);
          if (count === null) return 'truncated array header';
          children = count;
          break;
        }
        case 0xde: {
          const count = readLength(2);
          if (count === null) return 'truncated map header';
          children = 2 * count;
          break;
        }
        case 0xdf: {
          const count = readLength(4);
          if (count === null) return 'truncated map header';
          children = 2 * count;
          break;
        }
        default:
          // 0xc1 is never used; 0xc7-0xc9 and 0xd4-0xd8 are extension types, which the protocol has none of.
          return `byte 0x${byte.toString(16)} at offset ${offset - 1} is ${byte === 0xc1 ? 'not msgpack' : 'an extension type the protocol does not use'}`;
      }
    }
    if (payload === null) return `truncated length at offset ${offset}`;
    if (offset + payload > length) return `a value at offset ${offset} declares ${payload} byte(s) but only ${length - offset} follow`;
    offset += payload;
    if (children > 0) {
      if (open.length >= maxDepth) return `containers nested deeper than ${maxDepth}`;
      pending += children;
      if (pending > length - offset) return `declares ${pending} more element(s) but only ${length - offset} byte(s) follow`;
      open.push(children);
      continue;
    }
    // A complete value: it may complete its container, and that one its own, and so on.
    while (open.length > 0) {
      const last = open.length - 1;
      const remaining = (open[last] as number) - 1;
      if (remaining > 0) {
        open[last] = remaining;
        break;
      }
      open.pop();
    }
  }
  return pending === 0 ? null : `truncated: ${pending} value(s) missing at the end`;
}
