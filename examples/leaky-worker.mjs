// Example program: a worker with a memory leak. It keeps 8 MiB more every
// second (touched, so it is really resident) until its memory cap stops it.
const leaked = [];
let mib = 0;
setInterval(() => {
  leaked.push(Buffer.alloc(8 * 1024 * 1024, 1));
  mib += 8;
  process.stdout.write(JSON.stringify({ level: 'info', msg: 'leaking', leaked_mib: mib }) + '\n');
}, 1000);
