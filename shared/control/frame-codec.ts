// The one codec of the control protocol: a 4-byte big-endian length, then one msgpack value. The decoder
// takes bytes as the socket delivers them (split or coalesced). Used by the appd master and by appctl.

import { decodeValue, encodeValue } from './msgpack.js';
import { msgpackShapeProblem } from './msgpack-shape.js';
import { FRAME_HEADER_BYTES, MAX_FRAME_BYTES, type ErrorCode } from './protocol.js';

/** Bytes that are not a valid frame; the connection they came on cannot be trusted any more. */
export class FrameError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'FrameError';
    this.code = code;
  }
}

export function encodeFrame(message: unknown, maxBytes = MAX_FRAME_BYTES): Buffer {
  const frame = encodeValue(message, FRAME_HEADER_BYTES);
  const bodyBytes = frame.length - FRAME_HEADER_BYTES;
  if (bodyBytes > maxBytes)
    throw new FrameError('frame_too_large', `message of ${bodyBytes} bytes exceeds the ${maxBytes}-byte frame limit`);
  frame.writeUInt32BE(bodyBytes, 0);
  return frame;
}

/**
 * Reassembles frames from chunks. Holds at most one frame's bytes: a length prefix above the
 * limit is refused as soon as its 4 bytes arrive, before any body is buffered.
 */
export class FrameDecoder {
  #maxBytes: number;
  readonly #chunks: Buffer[] = [];
  #bufferedBytes = 0;
  /** The body length of the frame being read, once its header is complete. */
  #expected: number | null = null;

  constructor(maxBytes = MAX_FRAME_BYTES) {
    this.#maxBytes = maxBytes;
  }

  /** Changes the frame limit from the next frame on (the daemon allows more once a client said hello). */
  set maxBytes(bytes: number) {
    this.#maxBytes = bytes;
  }

  /** Bytes received but not yet part of a complete frame (a truncated frame leaves them here). */
  get bufferedBytes(): number {
    return this.#bufferedBytes + (this.#expected === null ? 0 : FRAME_HEADER_BYTES);
  }

  /** Every message completed by this chunk, in order; throws FrameError on the first bad frame. */
  push(chunk: Buffer): unknown[] {
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#bufferedBytes += chunk.length;
    }
    const messages: unknown[] = [];
    for (;;) {
      if (this.#expected === null) {
        if (this.#bufferedBytes < FRAME_HEADER_BYTES) return messages;
        const length = this.#take(FRAME_HEADER_BYTES).readUInt32BE(0);
        if (length > this.#maxBytes) {
          throw new FrameError('frame_too_large', `frame length ${length} exceeds the limit of ${this.#maxBytes} bytes`);
        }
        if (length === 0) throw new FrameError('bad_frame', 'empty frame (a frame holds exactly one msgpack value)');
        this.#expected = length;
      }
      if (this.#bufferedBytes < this.#expected) return messages;
      const body = this.#take(this.#expected);
      this.#expected = null;
      messages.push(decodeBody(body));
    }
  }

  /** Removes and returns the first `count` buffered bytes, copying only when they span chunks. */
  #take(count: number): Buffer {
    this.#bufferedBytes -= count;
    const first = this.#chunks[0];
    if (first && first.length >= count) {
      if (first.length === count) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(count);
      return first.subarray(0, count);
    }
    const result = Buffer.allocUnsafe(count);
    let filled = 0;
    while (filled < count) {
      const chunk = this.#chunks[0];
      if (!chunk) throw new Error('frame decoder lost track of its buffered bytes');
      const used = Math.min(chunk.length, count - filled);
      chunk.copy(result, filled, 0, used);
      filled += used;
      if (used === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(used);
    }
    return result;
  }
}

function decodeBody(body: Buffer): unknown {
  // Before decoding: a decoder allocates what headers declare, and this frame may be hostile.
  const problem = msgpackShapeProblem(body);
  if (problem !== null) throw new FrameError('bad_frame', `frame body refused before decoding: ${problem}`);
  try {
    return decodeValue(body);
  } catch (error) {
    // MsgpackError or a RangeError from a read past the end; all mean the same here.
    throw new FrameError('bad_frame', `frame body is not one msgpack value: ${error instanceof Error ? error.message : String(error)}`);
  }
}
