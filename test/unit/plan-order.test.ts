import { describe, expect, it } from 'vitest';
import { computeStartOrder, type OrderInput } from '../../src/plan/order.js';

const p = (name: string, priority = 100, dependsOn: string[] = []): OrderInput => ({ name, priority, dependsOn });

describe('computeStartOrder', () => {
  it('orders by name when nothing else decides, and nobody waits', () => {
    expect(computeStartOrder([p('b'), p('c'), p('a')])).toEqual({
      order: ['a', 'b', 'c'],
      startAfter: { a: [], b: [], c: [] },
      problems: [],
    });
  });

  it('starts lower priority numbers first, without making anyone wait', () => {
    const result = computeStartOrder([p('web', 100), p('db', 10), p('cache', 10), p('late', 200)]);
    expect(result.order).toEqual(['cache', 'db', 'web', 'late']);
    expect(result.startAfter).toEqual({ web: [], db: [], cache: [], late: [] });
  });

  it('puts dependencies first, whatever their name or priority', () => {
    const result = computeStartOrder([p('a', 100, ['z']), p('z', 100, ['y']), p('y', 100)]);
    expect(result.order).toEqual(['y', 'z', 'a']);
    expect(result.startAfter).toEqual({ a: ['z'], z: ['y'], y: [] });
    expect(result.problems).toEqual([]);
  });

  it('waits for depends_on only, without duplicates; priority breaks ties', () => {
    const result = computeStartOrder([p('web', 100, ['db', 'db', 'cache']), p('db', 10), p('cache', 100)]);
    expect(result.order).toEqual(['db', 'cache', 'web']);
    expect(result.startAfter.web).toEqual(['db', 'cache']);
    expect(result.startAfter.cache).toEqual([]);
  });

  it('depends_on wins over a priority that disagrees with it (no cycle)', () => {
    const result = computeStartOrder([p('db', 10, ['web']), p('web', 100)]);
    expect(result.problems).toEqual([]);
    expect(result.order).toEqual(['web', 'db']);
    expect(result.startAfter).toEqual({ db: ['web'], web: [] });
  });

  it('reports unknown dependencies at their index', () => {
    const result = computeStartOrder([p('web', 100, ['db', 'Cache', 'queue']), p('db'), p('cache')]);
    expect(result.problems).toEqual([
      { program: 'web', index: 1, message: 'unknown program "Cache" (did you mean "cache"?)' },
      { program: 'web', index: 2, message: 'unknown program "queue"' },
    ]);
    expect(result.order).toEqual(['cache', 'db', 'web']);
  });

  it('reports a cycle once, at a depends_on entry', () => {
    const result = computeStartOrder([p('a', 100, ['b']), p('b', 100, ['c']), p('c', 100, ['a']), p('d', 100, ['a']), p('e')]);
    expect(result.problems).toEqual([{ program: 'a', index: 0, message: 'dependency cycle: a → b → c → a' }]);
    expect(result.order).toEqual(['e']);
  });

  it('reports a program that depends on itself', () => {
    expect(computeStartOrder([p('a', 100, ['a'])]).problems).toEqual([
      { program: 'a', index: 0, message: 'dependency cycle: a → a' },
    ]);
  });

  it('reports separate cycles separately', () => {
    const result = computeStartOrder([p('a', 100, ['b']), p('b', 100, ['a']), p('x', 100, ['y']), p('y', 100, ['x'])]);
    expect(result.problems.map((problem) => problem.message)).toEqual([
      'dependency cycle: a → b → a',
      'dependency cycle: x → y → x',
    ]);
  });

});
