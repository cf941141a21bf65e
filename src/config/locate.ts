// Finds where a config path (`programs.web.restart`) is written in the parsed
// YAML document, as a 1-based line and column, for error messages. Follows
// aliases and `<<` merge keys to where a value is actually written.
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node, type Pair, type YAMLMap } from 'yaml';
import type { ConfigOrigin, PathSegment, Position } from './errors.js';

/** 'value' points at the value (or, when it is missing, its key); 'key' points at the key itself. */
export type LocateTarget = 'value' | 'key';

export interface YamlOrigin extends ConfigOrigin {
  locate(path: readonly PathSegment[], target?: LocateTarget): Position | undefined;
}

interface Found {
  /** The value node at the end of the path (when the whole path exists). */
  value?: Node | null;
  /** The key of the deepest mapping entry the walk went through. */
  key?: Node;
  /** Whether the whole path exists. */
  complete: boolean;
  /** Whether `key` is the key of the last path segment (not of a parent). */
  keyIsLast?: boolean;
}

function sameKey(key: unknown, segment: PathSegment): boolean {
  const value = isScalar(key) ? key.value : key;
  return value !== null && value !== undefined && String(value) === String(segment);
}

function isMergeKey(key: unknown): boolean {
  const value = isScalar(key) ? key.value : key;
  return value === '<<' || (typeof value === 'symbol' && value.description === '<<');
}

/** The entry for `segment` in `map`, or in what its `<<` merge keys bring in (own keys win, then merges in order). */
function findPair(doc: Document, map: YAMLMap, segment: PathSegment, depth = 0): Pair | undefined {
  const own = map.items.find((item) => !isMergeKey(item.key) && sameKey(item.key, segment));
  if (own !== undefined || depth > 20) return own;
  for (const item of map.items) {
    if (!isMergeKey(item.key)) continue;
    const sources = isSeq(item.value) ? item.value.items : [item.value];
    for (const source of sources) {
      const resolved = isAlias(source) ? source.resolve(doc) : source;
      if (!isMap(resolved)) continue;
      const found = findPair(doc, resolved, segment, depth + 1);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** Walks `path` down from the document root, following aliases, as far as it exists. */
function walk(doc: Document, path: readonly PathSegment[]): Found {
  let node: Node | null | undefined = doc.contents;
  let key: Node | undefined;
  let keyIsLast = false;
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc) ?? null;
    if (isMap(node)) {
      const pair = findPair(doc, node, segment);
      if (pair === undefined) return { key, complete: false };
      key = isScalar(pair.key) || isMap(pair.key) || isSeq(pair.key) ? pair.key : key;
      keyIsLast = true;
      node = pair.value as Node | null;
    } else if (isSeq(node) && typeof segment === 'number' && segment < node.items.length) {
      node = node.items[segment] as Node | null;
      keyIsLast = false;
    } else {
      return { key, complete: false };
    }
  }
  return { value: node, key, complete: true, keyIsLast };
}

function isEmpty(node: Node | null | undefined): boolean {
  return node === null || node === undefined || node.range === undefined || node.range === null || node.range[0] === node.range[1];
}

/** Source offset of the node `path` names, or of the closest thing to it that exists. */
export function offsetOf(doc: Document, path: readonly PathSegment[], target: LocateTarget = 'value'): number {
  const found = walk(doc, path);
  const keyOffset = found.key?.range?.[0];
  if (found.complete && target === 'key' && found.keyIsLast === true && keyOffset !== undefined) return keyOffset;
  if (found.complete && !isEmpty(found.value)) return found.value!.range![0];
  if (keyOffset !== undefined) return keyOffset;
  return doc.contents?.range?.[0] ?? 0;
}

/** The origin of a config parsed from YAML: file name plus a locator into the document. */
export function yamlOrigin(file: string, doc: Document, lineCounter: LineCounter): YamlOrigin {
  return {
    file,
    locate(path, target = 'value') {
      const { line, col } = lineCounter.linePos(offsetOf(doc, path, target));
      return { line, col };
    },
  };
}
