// Large downloads a test holds open mid-body (the client stops reading), so requests are certainly in
// flight when a worker is told to drain or stop; released, each must arrive whole. Runs in the ava test process.

import http from 'node:http';

export interface HeldDownload {
  /** Reads the rest of the body; resolves with the bytes received, rejects if the response was cut. */
  release(): Promise<number>;
}

/** Starts `count` downloads of `url`, each on its own connection; resolves once every one has its headers. */
export function holdDownloads(url: string, count: number, timeoutMs = 20_000): Promise<HeldDownload[]> {
  return Promise.all(Array.from({ length: count }, () => holdDownload(url, timeoutMs)));
}

function holdDownload(url: string, timeoutMs: number): Promise<HeldDownload> {
  return new Promise((settle, fail) => {
    const request = http.get(url, { agent: false, timeout: timeoutMs }, (response) => {
      if (response.statusCode !== 200) {
        fail(new Error(`${url}: HTTP ${response.statusCode}`));
        response.resume();
        return;
      }
      // The limit is for the headers only: a held download is idle on purpose for as long as the test holds
      // it, and a reload under load took longer than 20 s, so the socket timeout cut all six before the
      // old workers were told to drain (they then drained nothing and the test saw 'closed after N bytes').
      request.setTimeout(0);
      // Not reading: the server's writes back up once the socket buffers are full, mid-body.
      response.pause();
      let received = 0;
      const body = new Promise<number>((done, cut) => {
        response.on('data', (chunk: Buffer) => (received += chunk.length));
        response.on('end', () => (response.complete ? done(received) : cut(new Error(`cut after ${received} bytes`))));
        response.on('aborted', () => cut(new Error(`aborted after ${received} bytes`)));
        response.on('error', (error) => cut(new Error(`${error.message} after ${received} bytes`)));
        response.on('close', () => cut(new Error(`closed after ${received} bytes`))); // no-op once ended
      });
      // The promise is awaited by release(); until then a rejection must not count as unhandled.
      body.catch(() => undefined);
      settle({
        release: () => {
          response.resume();
          return body;
        },
      });
    });
    request.on('timeout', () => request.destroy(new Error(`no response from ${url} within ${timeoutMs}ms`)));
    request.on('error', fail);
  });
}
