// cgroup v2's cgroup.kill (Linux ≥ 5.14): writing 1 SIGKILLs every process of a
// cgroup and of its descendant cgroups at once, forks included, so nothing can
// slip out the way it can slip past a kill loop. cgroup v1 has no such file.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** SIGKILLs everything in the cgroup `dir`; false when there is no cgroup.kill or it cannot be written. Never throws. */
export function killCgroup(dir: string): boolean {
  try {
    writeFileSync(join(dir, 'cgroup.kill'), '1');
    return true;
  } catch {
    return false;
  }
}
