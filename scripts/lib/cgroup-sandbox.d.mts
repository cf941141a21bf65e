export function makeCgroupSandbox(label: string): string | undefined;
export function enterCgroupSandbox(label: string): { path: string | undefined; cleanup(): void };
export function removeCgroupTree(dir: string): void;
