// vm.d.mts — types for vm.mjs, so the TypeScript tests under test/vm can import it.
export const REPO: string;
export const CACHE_DIR: string;
export const K8S_CONTAINER: string;
export const GUEST_SHARE: string;
export const GUEST_OUT: string;
export const SUPERVISOR_BUNDLE: string;

export class VmError extends Error {}

export interface VmAssets { kernel: string; initramfs: string; release: string }
export function prepareVm(): VmAssets;

export interface VmResult {
  /** The script's exit code (137 if the guest's time limit killed it). */
  code: number;
  stdout: string;
  stderr: string;
  /** Files the script wrote under $VM_OUT, by relative path. */
  files: Record<string, string>;
  /** qemu's output: firmware, kernel console (loglevel 4), init's messages. */
  console: string;
  /** Boot + run + poweroff. */
  wallMs: number;
  timedOut: boolean;
}
export interface VmOptions { timeoutMs?: number; memoryMb?: number; keepDir?: boolean }
export function runInVm(script: string, opts?: VmOptions): Promise<VmResult>;

export function shq(s: string | number): string;

export interface ContainerOptions {
  /** memory.max, default 256M. */
  memory?: string;
  /** memory.oom.group, default 1 (the kubelet's value since 1.28). */
  oomGroup?: 0 | 1;
  /** Mount cgroup2 writable inside (privileged / delegated); default read-only. */
  writable?: boolean;
  /** The pod's name: cgroup kubepods/pod-<name>/ctr. */
  name?: string;
  /** Guest path for the key=value report; default: the helper's stdout. */
  report?: string;
  /** Guest path that receives the container PID 1's pid (outside view). */
  pidfile?: string;
}
export function containerCommand(argv: string[], opts?: ContainerOptions): string;
export function supervisorCommand(supervisorArgs: string[], opts?: ContainerOptions): string;

/**
 * k8s-container.sh's report: exit, low, high, max, oom, oom_kill, oom_group_kill
 * (memory.events, hierarchical), local_low … local_oom_group_kill (memory.events.local,
 * the container cgroup's own), peak.
 */
export type Report = Record<string, number | string>;
export function parseReport(text: string): Report;
