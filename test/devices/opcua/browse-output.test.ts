import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BrowsedNode, BrowseTree } from '../../../devices/opcua/browse.js';
import { accessText, cleanName, configItems, itemsYaml, typeText } from '../../../devices/opcua/browse-output.js';
import { parse } from 'yaml';

const node = (browseName: string, nodeClass: BrowsedNode['nodeClass'], children: BrowsedNode[] = [], accessLevel?: number): BrowsedNode => ({
  nodeId: `ns=1;s=${browseName}`,
  browseName,
  displayName: browseName,
  nodeClass,
  children,
  notBrowsed: false,
  ...(accessLevel === undefined ? {} : { accessLevel, dataType: 'Double', valueRank: -1 }),
});

const tree = (root: BrowsedNode): BrowseTree => ({ url: 'opc.tcp://plc:4840', root, nodeCount: 0, truncated: false, skipped: [] });

/** Objects and variables with browse names from a small alphabet (so that names collide), any access level. */
const arbNode: fc.Memo<BrowsedNode> = fc.memo((d) =>
  fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ name: fc.constantFrom('Temp', 'temp', 'T 1', 'Température', '', '_', 'a.b', 'Temp_2', 'Press_Temp'), access: fc.integer({ min: 0, max: 15 }) }).map(({ name, access }) => node(name, 'Variable', [], access)),
    fc.tuple(fc.constantFrom('Press', 'Press 2', 'Line', 'Temp'), fc.array(d > 0 ? arbNode(d - 1) : fc.constant(node('Leaf', 'Variable', [], 1)), { maxLength: 4 })).map(([name, children]) => node(name, 'Object', children)),
  ),
);

function readable(n: BrowsedNode): BrowsedNode[] {
  const self = n.nodeClass === 'Variable' && n.accessLevel !== undefined && (n.accessLevel & 1) !== 0 ? [n] : [];
  return [...self, ...n.children.flatMap(readable)];
}

describe('opcua browse output', () => {
  it('gives every readable variable, in tree order, one unique config-safe name, and nothing else', () => {
    fc.assert(
      fc.property(arbNode(3), (root) => {
        const items = configItems(tree(root));
        expect(items.map((i) => i.nodeId)).toEqual(readable(root).map((v) => v.nodeId));
        expect(new Set(items.map((i) => i.name)).size).toBe(items.length);
        for (const i of items) expect(i.name).toMatch(/^[A-Za-z0-9_.-]+$/);
        // The YAML reads back as the same items.
        expect(parse(itemsYaml(tree(root)))).toEqual({ items });
      }),
    );
  });

  it('names a second Temperature after its parent, then by number', () => {
    const root = node('Plant', 'Object', [node('Press1', 'Object', [node('Temperature', 'Variable', [], 1)]), node('Press2', 'Object', [node('Temperature', 'Variable', [], 3)]), node('Press2', 'Object', [node('Temperature', 'Variable', [], 1)])]);
    expect(configItems(tree(root)).map((i) => i.name)).toEqual(['Temperature', 'Press2_Temperature', 'Temperature_2']);
    expect(cleanName('Température (°C)')).toBe('Temperature_C');
    expect(cleanName('°')).toBe('item');
  });

  it('writes types with their rank and access levels as letters', () => {
    const v = (valueRank: number): BrowsedNode => ({ ...node('x', 'Variable', [], 1), dataType: 'Byte', valueRank });
    expect([-1, 1, 2, 0, -2, -3].map((r) => typeText(v(r)))).toEqual(['Byte', 'Byte[]', 'Byte[,]', 'Byte[...]', 'Byte (any rank)', 'Byte (scalar or [])']);
    expect([0, 1, 2, 3, 5, undefined].map(accessText)).toEqual(['-', 'r', 'w', 'rw', 'r+history', '?']);
  });
});
