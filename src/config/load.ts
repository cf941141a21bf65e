// Finds, reads, parses and validates supervisor.yaml. Every problem (YAML
// syntax or schema) becomes a ConfigError problem pointing at file:line:col.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { ConfigError, formatPath, type ConfigProblem } from './errors.js';
import { configErrorMap, issueToProblems } from './issues.js';
import { yamlOrigin, type YamlOrigin } from './locate.js';
import { configSchema, type Config } from './schema.js';

/** A validated config and where it came from (to point later problems into the file). */
export interface LoadedConfig {
  config: Config;
  origin: YamlOrigin;
}

/** Parses and validates config text. Throws a ConfigError listing every problem. */
export function parseConfigText(text: string, fileName: string): LoadedConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const origin = yamlOrigin(fileName, doc, lineCounter);

  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((error) => {
        const { line, col } = lineCounter.linePos(error.pos[0]);
        return { file: fileName, line, col, message: `YAML syntax error: ${error.message}` };
      }),
    );
  }

  const result = configSchema.safeParse(doc.toJS(), { reportInput: true, error: configErrorMap });
  if (!result.success) {
    const problems: ConfigProblem[] = result.error.issues
      .flatMap((issue) => issueToProblems(issue, configSchema))
      .map(({ path, message, target }) => ({
        file: fileName,
        ...origin.locate(path, target),
        path: formatPath(path),
        message,
      }));
    throw new ConfigError(sortProblems(problems));
  }
  return { config: result.data, origin };
}

/** Problems in file order (zod reports unknown keys after the other issues of a mapping). */
function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
  return problems
    .map((problem, index) => ({ problem, index }))
    .sort((a, b) => (a.problem.line ?? 0) - (b.problem.line ?? 0) || (a.problem.col ?? 0) - (b.problem.col ?? 0) || a.index - b.index)
    .map(({ problem }) => problem);
}

/** Reads and validates a config file. Throws a ConfigError (`cannot read <path>: ENOENT` when unreadable). */
export function loadConfigFile(path: string): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw ConfigError.single(path, `cannot read ${path}: ${code}`);
  }
  return parseConfigText(text, path);
}

export interface FindConfigOptions {
  /** Directory `./supervisor.yaml` is looked up in. Default: process.cwd(). */
  cwd?: string;
  /** Default: fs.existsSync. */
  exists?: (path: string) => boolean;
}

export const DEFAULT_CONFIG_PATHS = ['supervisor.yaml', '/etc/supervisor.yaml'] as const;

/**
 * The config file to use: `-c/--config`, else `$SUPERVISOR_CONFIG`, else
 * `./supervisor.yaml`, else `/etc/supervisor.yaml`; undefined if none exists.
 * A path given explicitly (CLI or env) that does not exist is a ConfigError.
 */
export function findConfigPath(
  cliPath: string | undefined,
  env: Record<string, string | undefined>,
  options: FindConfigOptions = {},
): string | undefined {
  const cwd = options.cwd ?? process.cwd();
  const exists = options.exists ?? existsSync;
  const explicit =
    cliPath !== undefined && cliPath !== ''
      ? { path: cliPath, from: '--config' }
      : env.SUPERVISOR_CONFIG !== undefined && env.SUPERVISOR_CONFIG !== ''
        ? { path: env.SUPERVISOR_CONFIG, from: '$SUPERVISOR_CONFIG' }
        : undefined;
  if (explicit !== undefined) {
    const path = resolve(cwd, explicit.path);
    if (!exists(path)) throw ConfigError.single(path, `config file ${path} (from ${explicit.from}) does not exist`);
    return path;
  }
  return DEFAULT_CONFIG_PATHS.map((candidate) => resolve(cwd, candidate)).find((path) => exists(path));
}
