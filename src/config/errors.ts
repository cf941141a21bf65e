// Config problems and the ConfigError that carries them: each problem points at
// a file, line and column and a path like `programs.web.restart`, and formats
// as `file:line:col: path: message`.

export type PathSegment = string | number;

export interface ConfigProblem {
  file: string;
  /** 1-based; absent when the problem has no position (an unreadable file, a config not from a file). */
  line?: number;
  col?: number;
  /** Dotted path of the offending field, like `programs.web.restart`; absent for YAML syntax errors. */
  path?: string;
  message: string;
}

export interface Position {
  line: number;
  col: number;
}

/** Where a config came from: the file name and a way to find a field's line and column in it. */
export interface ConfigOrigin {
  file: string;
  /** Position of the node at `path`, or of its nearest existing parent; undefined if unknown. */
  locate(path: readonly PathSegment[]): Position | undefined;
}

const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;

/** `['programs', 'web', 'command', 0]` → `programs.web.command[0]`; odd keys are quoted: `programs["a.b"]`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (PLAIN_KEY.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/**
 * `file:line:col: path: message`, leaving out the parts a problem does not have.
 * A problem with neither position nor path is about the whole file and its
 * message names the file itself (`cannot read /x.yaml: ENOENT`): just the message.
 */
export function formatProblem(problem: ConfigProblem): string {
  if (problem.line === undefined && (problem.path === undefined || problem.path === '')) return problem.message;
  let out = problem.file;
  if (problem.line !== undefined) out += `:${problem.line}:${problem.col ?? 1}`;
  if (problem.path !== undefined && problem.path !== '') out += `: ${problem.path}`;
  return `${out}: ${problem.message}`;
}

/** A problem at `path` of a config from `origin` (or from `file` when there is no origin). */
export function problemAt(
  origin: ConfigOrigin | undefined,
  file: string,
  path: readonly PathSegment[],
  message: string,
): ConfigProblem {
  const position = origin?.locate(path);
  return {
    file: origin?.file ?? file,
    ...(position === undefined ? {} : { line: position.line, col: position.col }),
    path: formatPath(path),
    message,
  };
}

/** Problems without repeats, in file order (problems without a position first, then by line and column). */
export function orderProblems(problems: readonly ConfigProblem[]): ConfigProblem[] {
  const unique = [...new Map(problems.map((problem) => [formatProblem(problem), problem])).values()];
  return unique
    .map((problem, index) => ({ problem, index }))
    .sort((a, b) => (a.problem.line ?? 0) - (b.problem.line ?? 0) || (a.problem.col ?? 0) - (b.problem.col ?? 0) || a.index - b.index)
    .map(({ problem }) => problem);
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.problems = problems;
  }

  /** A ConfigError about a whole file; the message names the file (`cannot read /x.yaml: ENOENT`). */
  static single(file: string, message: string): ConfigError {
    return new ConfigError([{ file, message }]);
  }

  /** One line per problem: `file:line:col: path: message`. */
  format(): string[] {
    return this.problems.map(formatProblem);
  }
}
