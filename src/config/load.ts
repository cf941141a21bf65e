// Finds, reads, parses and validates supervisor.yaml. Every problem (YAML
// syntax or schema) becomes a ConfigError problem pointing at file:line:col.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { findAliasBomb, MAX_EXPANDED_NODES } from './aliases.js';
import { ConfigError, formatPath, type ConfigProblem } from './errors.js';
import { configErrorMap, issueToProblems } from './issues.js';
import { yamlOrigin, type YamlOrigin } from './locate.js';
import { salvageConfig } from './salvage.js';
import { configSchema, type Config } from './schema.js';

/** A validated config and where it came from (to point later problems into the file). */
export interface LoadedConfig {
  config: Config;
  origin: YamlOrigin;
}

/** What parsing config text found: the config if it is valid, else its problems and what validated of it. */
export interface ParsedConfig {
  /** Set when the text is a valid config. */
  loaded?: LoadedConfig;
  /** Schema and YAML problems, in file order (empty when `loaded` is set). */
  problems: ConfigProblem[];
  /** When the schema found problems: the parts that validated, for the later checks. */
  salvaged?: LoadedConfig;
}

/** Parses and validates config text, never throwing for a problem in it. */
export function parseConfigDocument(text: string, fileName: string): ParsedConfig {
  const lineCounter = new LineCounter();
  // merge: YAML 1.1 `<<: *defaults` merge keys, which big configs rely on.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true });
  const origin = yamlOrigin(fileName, doc, lineCounter);
  const at = (offset: number, message: string): ConfigProblem => ({ file: fileName, ...lineCounter.linePos(offset), message });

  if (doc.errors.length > 0) {
    return { problems: doc.errors.map((error) => at(error.pos[0], `YAML syntax error: ${error.message}`)) };
  }

  const bomb = findAliasBomb(doc);
  if (bomb !== undefined) {
    const limit = MAX_EXPANDED_NODES.toLocaleString('en-US');
    return { problems: [at(bomb.range?.[0] ?? 0, `YAML aliases expand to more than ${limit} nodes (an alias bomb?): *${bomb.source}`)] };
  }

  let data: unknown;
  try {
    // Aliases are bounded by findAliasBomb, so the yaml package's own cap (100 uses) is off.
    data = doc.toJS({ maxAliasCount: -1 });
  } catch (error) {
    return { problems: [at(doc.contents?.range?.[0] ?? 0, `YAML error: ${(error as Error).message}`)] };
  }

  const result = configSchema.safeParse(data, { reportInput: true, error: configErrorMap });
  if (result.success) return { loaded: { config: result.data, origin }, problems: [] };
  const issues = result.error.issues.flatMap((issue) => issueToProblems(issue, configSchema));
  const problems = issues.map(({ path, message, target }) => ({
    file: fileName,
    ...origin.locate(path, target),
    path: formatPath(path),
    message,
  }));
  const salvaged = salvageConfig(data, issues.map((issue) => issue.path));
  return { problems: sortProblems(problems), ...(salvaged === undefined ? {} : { salvaged: { config: salvaged, origin } }) };
}

/** Parses and validates config text. Throws a ConfigError listing every problem. */
export function parseConfigText(text: string, fileName: string): LoadedConfig {
  const parsed = parseConfigDocument(text, fileName);
  if (parsed.loaded === undefined) throw new ConfigError(parsed.problems);
  return parsed.loaded;
}

/** Problems in file order (zod reports unknown keys after the other issues of a mapping). */
function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
  return problems
    .map((problem, index) => ({ problem, index }))
    .sort((a, b) => (a.problem.line ?? 0) - (b.problem.line ?? 0) || (a.problem.col ?? 0) - (b.problem.col ?? 0) || a.index - b.index)
    .map(({ problem }) => problem);
}

/** The text of a config file. Throws a ConfigError (`cannot read <path>: ENOENT` when unreadable). */
export function readConfigFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    if (code === 'EISDIR') throw ConfigError.single(path, `${path} is a directory, not a config file: give the file itself (e.g. ${join(path, 'supervisor.yaml')})`);
    throw ConfigError.single(path, `cannot read ${path}: ${code}`);
  }
}

/** Reads and validates a config file. Throws a ConfigError (`cannot read <path>: ENOENT` when unreadable). */
export function loadConfigFile(path: string): LoadedConfig {
  return parseConfigText(readConfigFile(path), path);
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
