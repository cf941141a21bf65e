// Types of apt.mjs for the TypeScript tests.
export declare function which(cmd: string): string | undefined;
export declare function ensureCommands(pairs: Array<[pkg: string, cmd: string]>): void;
