// Example program: a worker that writes one JSON log line a second (the
// supervisor frames them, see `output: json`), and finishes its batch on SIGTERM.
let batch = 0;
const log = (level, msg, fields = {}) =>
  process.stdout.write(JSON.stringify({ level, msg, ...fields }) + '\n');

log('info', 'worker started', { queue: process.env.QUEUE });
const timer = setInterval(() => {
  batch += 1;
  log('info', 'processed batch', { batch, items: 1 + Math.floor(Math.random() * 20) });
}, 1000);

process.on('SIGTERM', () => {
  clearInterval(timer);
  log('info', 'worker stopping', { batches: batch });
  process.exit(0);
});
