// Start order: a program waits only for its depends_on (started, then running);
// `priority` orders without waiting (like supervisord): programs are sorted
// topologically over depends_on, ties by priority then name, and they start in
// that order and stop in reverse. Unknown dependencies and cycles are problems.
import { didYouMean } from '../config/suggest.js';

export interface OrderInput {
  name: string;
  priority: number;
  dependsOn: readonly string[];
}

/** A problem with one entry of a program's depends_on list. */
export interface OrderProblem {
  program: string;
  /** Index in that program's depends_on list. */
  index: number;
  message: string;
}

export interface StartOrder {
  /** Names in a valid start order (programs caught in a cycle are left out). */
  order: string[];
  /** For each program, the programs it waits for, in start order. */
  startAfter: Record<string, string[]>;
  problems: OrderProblem[];
}

interface Edge {
  /** The program waited for. */
  to: string;
  /** Index in depends_on. */
  dependsOnIndex: number;
}

function byPriorityThenName(a: OrderInput, b: OrderInput): number {
  return a.priority - b.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** What each program waits for, and problems with unknown names. */
function buildEdges(programs: readonly OrderInput[]): { edges: Map<string, Edge[]>; problems: OrderProblem[] } {
  const names = new Set(programs.map((p) => p.name));
  const edges = new Map<string, Edge[]>();
  const problems: OrderProblem[] = [];
  for (const program of programs) {
    const out = new Map<string, Edge>();
    program.dependsOn.forEach((dependency, index) => {
      if (!names.has(dependency)) {
        problems.push({ program: program.name, index, message: unknownMessage(dependency, names) });
      } else if (!out.has(dependency)) {
        out.set(dependency, { to: dependency, dependsOnIndex: index });
      }
    });
    edges.set(program.name, [...out.values()]);
  }
  return { edges, problems };
}

function unknownMessage(name: string, names: Set<string>): string {
  return `unknown program ${JSON.stringify(name)}${didYouMean(name, [...names].sort())}`;
}

/** Kahn's algorithm over `pending`, taking the lowest (priority, name) ready program each time. */
function topological(pending: OrderInput[], edges: Map<string, Edge[]>, done: Set<string>): string[] {
  const order: string[] = [];
  const left = [...pending].sort(byPriorityThenName);
  let progress = true;
  while (progress) {
    progress = false;
    const index = left.findIndex((p) => edges.get(p.name)!.every((edge) => done.has(edge.to)));
    if (index !== -1) {
      const [next] = left.splice(index, 1);
      done.add(next!.name);
      order.push(next!.name);
      progress = true;
    }
  }
  return order;
}

/** A cycle among `stuck` programs (each waits for at least one other stuck program), as a list of edges. */
function findCycle(start: string, stuck: Set<string>, edges: Map<string, Edge[]>, priority: Map<string, number>): Array<[string, Edge]> {
  const path: Array<[string, Edge]> = [];
  const seenAt = new Map<string, number>();
  let current = start;
  while (!seenAt.has(current)) {
    seenAt.set(current, path.length);
    const candidates = edges.get(current)!.filter((edge) => stuck.has(edge.to));
    // The lowest (priority, name) first, for a readable and stable cycle.
    candidates.sort((a, b) => priority.get(a.to)! - priority.get(b.to)! || (a.to < b.to ? -1 : 1));
    const edge = candidates[0]!;
    path.push([current, edge]);
    current = edge.to;
  }
  return path.slice(seenAt.get(current));
}

function cycleProblem(cycle: Array<[string, Edge]>): OrderProblem {
  let text = cycle[0]![0];
  for (const [, edge] of cycle) text += ` → ${edge.to}`;
  const [program, edge] = cycle[0]!;
  return { program, index: edge.dependsOnIndex, message: `dependency cycle: ${text}` };
}

export function computeStartOrder(programs: readonly OrderInput[]): StartOrder {
  const { edges, problems } = buildEdges(programs);
  const priority = new Map(programs.map((p) => [p.name, p.priority]));
  const done = new Set<string>();
  const order = topological([...programs], edges, done);

  // Whatever is left is in a cycle or waits on one: report each cycle once,
  // set its programs aside, and peel off whatever no longer waits; repeat.
  const removed = new Set(done);
  for (;;) {
    const stuck = programs.filter((p) => !removed.has(p.name));
    topological(stuck, edges, removed);
    const left = stuck.filter((p) => !removed.has(p.name)).sort(byPriorityThenName);
    if (left.length === 0) break;
    const cycle = findCycle(left[0]!.name, new Set(left.map((p) => p.name)), edges, priority);
    problems.push(cycleProblem(cycle));
    for (const [name] of cycle) removed.add(name);
  }

  const position = new Map(order.map((name, index) => [name, index]));
  const startAfter: Record<string, string[]> = {};
  for (const program of programs) {
    startAfter[program.name] = edges
      .get(program.name)!
      .map((edge) => edge.to)
      .sort((a, b) => (position.get(a) ?? Infinity) - (position.get(b) ?? Infinity) || priority.get(a)! - priority.get(b)! || (a < b ? -1 : 1));
  }
  return { order, startAfter, problems };
}
