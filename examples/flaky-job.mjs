// Example program: a job that works for two seconds, then fails (exit 1) more
// often than not, to show restarts with growing backoff. When it succeeds
// (exit 0) it is done for good.
const failureRate = Number(process.env.FAILURE_RATE ?? 0.6);
console.log('flaky-job: working…');
setTimeout(() => {
  if (Math.random() < failureRate) {
    console.error('flaky-job: something went wrong, exiting 1');
    process.exit(1);
  }
  console.log('flaky-job: done, exiting 0');
  process.exit(0);
}, 2000);
