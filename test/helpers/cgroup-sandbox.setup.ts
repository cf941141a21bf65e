// Global setup of the process suite: a memory cgroup of its own (cgroup v1 hosts) that
// every supervisor started by test/helpers/init.ts enters before it execs, so the leaf
// cgroups it makes land in there; the teardown removes the whole subtree, with whatever
// a SIGKILLed supervisor left behind. No-op where cgroups are not writable.
import { makeCgroupSandbox, removeCgroupTree } from '../../scripts/lib/cgroup-sandbox.mjs';

export default function setup(): () => void {
  const path = makeCgroupSandbox('tests');
  if (path) process.env.SV_TEST_CGROUP = path;
  return () => {
    if (path) removeCgroupTree(path);
  };
}
