// Example program: an HTTP server that takes a while to warm up. /ready answers
// 503 for the first WARMUP_MS (default 3 s), then 200; /live always answers 200.
// Exits 0 on SIGTERM.
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 8081);
const readyAt = Date.now() + Number(process.env.WARMUP_MS ?? 3000);
const server = createServer((req, res) => {
  const ready = Date.now() >= readyAt;
  if (req.url === '/ready') res.writeHead(ready ? 200 : 503);
  res.end(req.url === '/ready' ? (ready ? 'ready\n' : 'warming up\n') : 'alive\n');
});
server.listen(port, '127.0.0.1', () => console.log(`slow-web: listening on http://127.0.0.1:${port}, ready in ${process.env.WARMUP_MS ?? 3000} ms`));
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
