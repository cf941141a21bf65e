// argv[2] of the foreground shim (src/process/foreground.ts):
// `node supervisor.mjs FOREGROUND_SHIM_FLAG -- cmd args...`. Its own module so
// the bundle's entry can test for it without loading anything else.
export const FOREGROUND_SHIM_FLAG = '--internal-foreground-exec';
