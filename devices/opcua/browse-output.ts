import { stringify } from 'yaml';
import type { BrowsedNode, BrowseTree } from './browse.js';
import { NUMERIC_DATA_TYPES } from './sample-values.js';

/**
 * What `edgewise opcua browse` prints: the tree (one line per node, indented by depth, with a
 * variable's type, access and units), or with --yaml the `items:` of a subscription for the
 * opcua source's config, one per readable variable.
 */

/** `Double`, `UInt32[]`, `Byte[,]`, `Double (any rank)`: the data type with its value rank. */
export function typeText(v: BrowsedNode): string {
  const type = v.dataType ?? '?';
  const rank = v.valueRank;
  if (rank === undefined || rank === -1) return type;
  if (rank >= 1) return `${type}[${','.repeat(rank - 1)}]`;
  if (rank === -3) return `${type} (scalar or [])`;
  if (rank === 0) return `${type}[...]`;
  return `${type} (any rank)`;
}

/** `r`, `rw`, `w`, `-`; `+history` when the server keeps history of it. */
export function accessText(level: number | undefined): string {
  if (level === undefined) return '?';
  const rw = `${(level & 1) !== 0 ? 'r' : ''}${(level & 2) !== 0 ? 'w' : ''}` || '-';
  return (level & 4) !== 0 ? `${rw}+history` : rw;
}

export function formatTree(tree: BrowseTree, depth: number): string[] {
  const lines: string[] = [];
  const visit = (node: BrowsedNode, indent: number): void => {
    const parts = [`${'  '.repeat(indent)}${node.browseName}`, node.nodeId];
    if (node.nodeClass === 'Variable') {
      parts.push(typeText(node), accessText(node.accessLevel));
      if (node.unit !== undefined) parts.push(node.unit);
      if (node.range !== undefined) parts.push(`[${node.range.low}, ${node.range.high}]`);
    } else {
      parts.push(node.nodeClass);
    }
    if (node.notBrowsed) parts.push('(more below: raise --depth or browse it with --node)');
    lines.push(parts.join('  '));
    for (const child of node.children) visit(child, indent + 1);
  };
  visit(tree.root, 0);
  for (const s of tree.skipped) lines.push(`(not shown: ${s.browseName} ${s.nodeId}, the server's own objects; browse it with --node '${s.nodeId}')`);
  const variables = countVariables(tree.root);
  lines.push(`${tree.nodeCount} nodes, ${variables} variables, depth ${depth}${tree.truncated ? `; stopped at ${tree.nodeCount} nodes (--max-nodes): narrow with --node or --depth` : ''}`);
  return lines;
}

function countVariables(node: BrowsedNode): number {
  return (node.nodeClass === 'Variable' ? 1 : 0) + node.children.reduce((n, c) => n + countVariables(c), 0);
}

export interface ConfigItem {
  readonly nodeId: string;
  readonly name: string;
  readonly unit?: string;
}

/** Why a variable is not an item: undefined when it is one. Numeric types are the source's (sample-values.ts), so --yaml emits only items the source records. */
export function notAnItem(v: BrowsedNode): string | undefined {
  if (v.accessLevel === undefined || (v.accessLevel & 1) === 0) return 'not readable';
  if (v.valueRank !== undefined && v.valueRank !== -1) return `not a scalar (${typeText(v)})`;
  if (v.dataType === undefined || !NUMERIC_DATA_TYPES.has(v.dataType)) return `not a number (${v.dataType ?? 'unknown type'})`;
  return undefined;
}

/**
 * One item per readable numeric scalar variable, in tree order. Names come from browse names, reduced to
 * letters, digits, `_`, `-` and `.` (accents dropped, anything else becomes `_`); a name already taken gets its parent's name in front
 * (`Press2_Temperature`), then a number (`Temperature_2`), so every name is unique.
 */
export function configItems(tree: BrowseTree): ConfigItem[] {
  const items: ConfigItem[] = [];
  const taken = new Set<string>();
  const visit = (node: BrowsedNode, parent: BrowsedNode | undefined): void => {
    if (node.nodeClass === 'Variable' && notAnItem(node) === undefined) {
      const base = cleanName(node.browseName);
      let name = base;
      if (taken.has(name) && parent !== undefined) name = withSuffix(cleanName(parent.browseName), `_${base}`);
      for (let n = 2; taken.has(name); n += 1) name = withSuffix(base, `_${n}`);
      taken.add(name);
      items.push({ nodeId: node.nodeId, name, ...(node.unit === undefined ? {} : { unit: node.unit }) });
    }
    for (const child of node.children) visit(child, node);
  };
  visit(tree.root, undefined);
  return items;
}

/** The source's item names (devices/opcua/schema.ts): a letter, digit or `_` first, at most 64 characters. */
export const MAX_NAME_CHARS = 64;

function withSuffix(head: string, suffix: string): string {
  return `${head.slice(0, Math.max(1, MAX_NAME_CHARS - suffix.length))}${suffix}`.slice(0, MAX_NAME_CHARS);
}

export function cleanName(browseName: string): string {
  const name = browseName
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9_.-]+/g, '_')
    .replace(/^[_.-]+|_+$/g, '')
    .slice(0, MAX_NAME_CHARS);
  return name === '' ? 'item' : name;
}

/** Variables listed in the tree that are not items, with the reason (at most `max`). */
function leftOut(node: BrowsedNode, out: string[], max: number): number {
  let n = 0;
  if (node.nodeClass === 'Variable') {
    const why = notAnItem(node);
    if (why !== undefined) {
      n += 1;
      if (out.length < max) out.push(`${node.browseName} ${node.nodeId}: ${why}`);
    }
  }
  for (const c of node.children) n += leftOut(c, out, max);
  return n;
}

const MAX_LEFT_OUT_LINES = 20;

/** The YAML for --yaml: comments saying where it goes and which variables were left out, then `items:`. */
export function itemsYaml(tree: BrowseTree): string {
  const items = configItems(tree);
  const lines: string[] = [];
  const skipped = leftOut(tree.root, lines, MAX_LEFT_OUT_LINES);
  const head = [
    `# ${items.length} items (readable numeric scalars) from ${tree.url} under ${tree.root.browseName} (${tree.root.nodeId})${tree.truncated ? '; the browse stopped at --max-nodes, so this list is incomplete' : ''}`,
    "# Paste under one of the opcua source's subscriptions (devices/opcua/README.md); add samplingIntervalMs, queueSize or deadband per item where the defaults do not fit.",
    ...(skipped === 0 ? [] : [`# ${skipped} variables left out:`, ...lines.map((l) => `#   ${l}`), ...(skipped > lines.length ? [`#   ... and ${skipped - lines.length} more`] : [])]),
  ];
  return `${head.join('\n')}\n${stringify({ items }, { lineWidth: 0 })}`;
}
