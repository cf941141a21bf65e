// Where the plan comes from: a single command after `--`, or the config file
// found by the lookup order. Turns every config problem into UsageError lines
// (`file:line:col: path: message`) for the CLI to print and exit 2.
// The config modules (zod, yaml) and the JSON Schema generator are imported only
// when a config file is read or the schema printed: a single command needs neither.
import type { LogFormat, LogLevel, SupervisorPlan } from '../plan/types.js';
import { ConfigError, formatProblem, orderProblems, type ConfigProblem } from '../config/errors.js';
import type { LoadedConfig } from '../config/load.js';
import { buildPlan, buildSingleCommandPlan } from '../plan/build.js';

export class UsageError extends Error {
  constructor(readonly lines: string[]) {
    super(lines.join('\n'));
  }
}

export interface PlanRequest {
  configPath?: string;
  command?: string[];
  processGroup: boolean;
  env: NodeJS.ProcessEnv;
}

export interface PlanSource {
  plan: SupervisorPlan;
  log: { level?: LogLevel; format?: LogFormat };
}

function problemLines(e: unknown): string[] {
  if (e instanceof ConfigError) return e.problems.map(formatProblem);
  throw e;
}

async function loadPlan(configPath: string | undefined, env: NodeJS.ProcessEnv): Promise<PlanSource & { file: string }> {
  const { findConfigPath, parseConfigDocument, readConfigFile } = await import('../config/load.js');
  let file: string | undefined;
  try {
    file = findConfigPath(configPath, env);
  } catch (e) {
    throw new UsageError(problemLines(e));
  }
  if (file === undefined) {
    throw new UsageError([
      'no config file: give -c FILE, set SUPERVISOR_CONFIG, or create ./supervisor.yaml or /etc/supervisor.yaml; to run one command: supervisor -- CMD ARGS',
    ]);
  }
  try {
    const parsed = parseConfigDocument(readConfigFile(file), file);
    if (parsed.loaded !== undefined) {
      const plan = buildPlan(parsed.loaded, { env });
      return { file, plan, log: plan.log ?? {} };
    }
    throw new ConfigError(orderProblems([...parsed.problems, ...laterProblems(parsed.salvaged, env)]));
  } catch (e) {
    throw new UsageError(problemLines(e));
  }
}

/**
 * The problems the plan checks (dependencies, users, commands, caps) find in
 * the parts of a config that passed the schema, so one run reports them all.
 */
function laterProblems(salvaged: LoadedConfig | undefined, env: NodeJS.ProcessEnv): ConfigProblem[] {
  if (salvaged === undefined) return [];
  try {
    buildPlan(salvaged, { env });
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
}

export async function readPlan(req: PlanRequest): Promise<PlanSource> {
  if (req.command) {
    if (req.configPath) throw new UsageError(['give either a config file (-c) or a command after --, not both']);
    return { plan: buildSingleCommandPlan(req.command, { processGroup: req.processGroup, env: req.env }), log: {} };
  }
  const { plan, log } = await loadPlan(req.configPath, req.env);
  return { plan, log };
}

export type ValidateResult = { ok: true; file: string; programs: number } | { ok: false; problems: string[] };

export async function validateConfig(configPath: string | undefined, env: NodeJS.ProcessEnv): Promise<ValidateResult> {
  try {
    const { file, plan } = await loadPlan(configPath, env);
    return { ok: true, file, programs: plan.programs.length };
  } catch (e) {
    if (e instanceof UsageError) return { ok: false, problems: e.lines };
    throw e;
  }
}

export async function configSchemaText(): Promise<string> {
  const { configJsonSchema } = await import('../config/schema.js');
  return JSON.stringify(configJsonSchema(), null, 2) + '\n';
}
