// Puts the sockets it inherits (fd 3, 4, ...) into the listening state, each with the backlog named by
// its argument, and exits before its event loop ever runs. Run by a short-lived child of the appd master.
//
// Why a child: listen() in Node also starts libuv's accept watcher, so a master that listened would
// accept connections itself, and those hang (DESIGN §14). The listening state belongs to the socket, not
// to the process: this process listens, never returns to its loop (so never polls, so never accepts),
// and its copies of the descriptors close with it; the master's keep the socket listening.

import net from 'node:net';

const FIRST_DESCRIPTOR = 3;

const backlogs = process.argv.slice(2).map(Number);
const servers: net.Server[] = [];
let failed: { server: net.Server; descriptor: number } | null = null;
for (const [index, backlog] of backlogs.entries()) {
  const server = net.createServer();
  servers.push(server);
  // The backlog goes as an argument: listen({ fd, backlog }) ignores the option for a descriptor
  // (Node 20 and 24), and the kernel's listen() would get Node's default of 511.
  server.listen({ fd: FIRST_DESCRIPTOR + index }, backlog);
  // listen() on a descriptor runs listen(2) synchronously; a failure is only reported on the next tick.
  if (!server.listening) {
    failed = { server, descriptor: FIRST_DESCRIPTOR + index };
    break;
  }
}
if (failed === null) process.exit(0);

// Close every server that did listen before the loop runs: closing drops libuv's accept watcher at once.
for (const server of servers) if (server.listening) server.close();
const { server, descriptor } = failed;
server.once('error', (error: NodeJS.ErrnoException) => {
  process.stderr.write(`fd ${descriptor}: ${error.code ?? error.message}\n`);
  process.exit(1);
});
