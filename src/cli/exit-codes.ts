// The supervisor's own exit codes (besides the children's, which it passes on).
// Documented in the README "Exit codes" table.

/** Bad command line or config file (like validate's failure). */
export const EXIT_USAGE = 2;
/** An internal error before any program started (EX_SOFTWARE). */
export const EXIT_INTERNAL = 70;
