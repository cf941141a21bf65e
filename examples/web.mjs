// Example program: a tiny HTTP server. Answers every request with a greeting,
// and on SIGTERM stops accepting connections and exits 0 (a clean stop).
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 8080);
const server = createServer((req, res) => {
  console.log(`${req.method} ${req.url}`);
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(`hello from ${process.env.GREETING ?? 'the example'} (pid ${process.pid})\n`);
});

server.listen(port, () => console.log(`web: listening on http://localhost:${port}`));

process.on('SIGTERM', () => {
  console.log('web: SIGTERM, closing');
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
