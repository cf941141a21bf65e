// Types of oci-pod.mjs for the TypeScript tests.
export declare const DEFAULT_CAPS: string[];
export declare const ALL_CAPS: string[];
export declare function podSpec(o: {
  args: string[];
  env?: string[];
  cwd?: string;
  uid?: number;
  gid?: number;
  memoryBytes: number;
  cgroupsPath: string;
  binds?: { source: string; destination: string }[];
  cgroupWritable?: boolean;
  privileged?: boolean;
}): Record<string, unknown>;
