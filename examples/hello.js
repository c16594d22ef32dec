// The smallest appd app: a Node request listener. Run it with
//   npm start   (in the clone: node dist/daemon/main.js ./examples/hello.js --workers 4 --bind 127.0.0.1:8000 --name hello)
// Each response says which worker answered, so repeated curls show the pool at work.

export default function hello(request, response) {
  const body = `hello from ${process.env.APPD_POOL}.${process.env.APPD_SLOT} (pid ${process.pid}, generation ${process.env.APPD_GENERATION})\n`;
  response.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  response.end(body);
}
