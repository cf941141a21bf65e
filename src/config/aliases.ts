// Guards against YAML alias bombs ("billion laughs"): counts how many nodes the
// document stands for once every alias (and `<<` merge) is expanded, and finds
// the alias that takes it past a limit. Big configs that reuse one anchor
// hundreds of times stay far below it; a bomb (anchors of anchors, each used
// ten times) passes it within a few lines.
import { isAlias, isMap, isNode, isPair, isSeq, type Alias, type Document, type Node } from 'yaml';

/** Most nodes a config may expand to (the file itself plus every alias expanded). */
export const MAX_EXPANDED_NODES = 1_000_000;

/**
 * The first alias (in document order) at which the expanded document passes
 * `limit` nodes, or undefined when it stays within it. One pass in document
 * order: an alias refers to the last anchor of its name before it, whose
 * expanded size is known by then (a recursive alias counts 1).
 */
export function findAliasBomb(doc: Document, limit = MAX_EXPANDED_NODES): Alias | undefined {
  const anchors = new Map<string, Node>();
  const sizes = new Map<Node, number>();
  let total = 0;
  let found: Alias | undefined;
  const visit = (node: unknown): number => {
    if (found !== undefined) return 0;
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      const size = target === undefined ? 1 : (sizes.get(target) ?? 1);
      total += size;
      if (total > limit) found = node;
      return size;
    }
    total += 1;
    if (!isNode(node)) return 1;
    if (node.anchor !== undefined) anchors.set(node.anchor, node);
    let size = 1;
    if (isMap(node) || isSeq(node)) {
      for (const item of node.items) size += isPair(item) ? visit(item.key) + visit(item.value) : visit(item);
    }
    sizes.set(node, size);
    return size;
  };
  visit(doc.contents);
  return found;
}
