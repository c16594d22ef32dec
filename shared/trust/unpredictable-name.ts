// Unpredictable hex for the names of temp files and sockets that must not be guessed by another user
// (pidfile's temp file, a unix socket's bind directory). Run by the appd master.
//
// Read from the kernel's /dev/urandom rather than node:crypto: loading node:crypto costs the master
// 2 MB (Node 20) to 3 MB (Node 24) of memory for twelve random bytes at start.

import { closeSync, openSync, readSync } from 'node:fs';

/** `bytes` random bytes as hex; from Web Crypto only if /dev/urandom cannot be read (no /dev in a chroot). */
export function unpredictableHex(bytes: number): string {
  const buffer = Buffer.alloc(bytes);
  try {
    const fd = openSync('/dev/urandom', 'r');
    try {
      let filled = 0;
      while (filled < bytes) {
        const read = readSync(fd, buffer, filled, bytes - filled, null);
        if (read === 0) throw new Error('/dev/urandom: end of file');
        filled += read;
      }
    } finally {
      closeSync(fd);
    }
    return buffer.toString('hex');
  } catch {
    // No usable /dev/urandom (a chroot without /dev): the crypto global (Node's Web Crypto, loaded on first
    // use: the cost of node:crypto) gives bytes as good, and needs no node:module in the master.
    globalThis.crypto.getRandomValues(buffer);
    return buffer.toString('hex');
  }
}
