// Reads a vitest JSON report (--reporter=json) and prints its failures: each failed
// test as "file > test", with the first lines of its error. With --files, only the
// failed test files' paths, space-separated (for a re-run). Used by
// scripts/test-node-versions.sh so a CI log's tail names what failed.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const args = process.argv.slice(2);
const filesOnly = args[0] === '--files';
const report = JSON.parse(readFileSync(filesOnly ? args[1] : args[0], 'utf8'));
const failedFiles = (report.testResults ?? []).filter((f) => f.status !== 'passed');

if (filesOnly) {
  console.log(failedFiles.map((f) => relative(process.cwd(), f.name)).join(' '));
} else {
  for (const f of failedFiles) {
    const file = relative(process.cwd(), f.name);
    const tests = (f.assertionResults ?? []).filter((t) => t.status === 'failed');
    if (tests.length === 0) console.log(`${file}: ${(f.message || 'failed').split('\n').slice(0, 8).join('\n  ')}`);
    for (const t of tests) {
      const lines = (t.failureMessages ?? []).join('\n').split('\n');
      const msg = lines.filter((l) => !/node_modules|<anonymous>/.test(l)).slice(0, 12).join('\n  ');
      console.log(`${file} > ${t.fullName}\n  ${msg}`);
    }
  }
}
