import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BrowsedNode, BrowseTree } from '../../../devices/opcua/browse.js';
import { accessText, cleanName, configItems, itemsYaml, notAnItem, typeText } from '../../../devices/opcua/browse-output.js';
import { NUMERIC_DATA_TYPES } from '../../../devices/opcua/sample-values.js';
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
    fc.record({ name: fc.constantFrom('Temp', 'temp', 'T 1', 'Température', '', '_', 'a.b', '.x', '-', 'Temp_2', 'Press_Temp', 'L'.repeat(70), `${'L'.repeat(63)}_2`), access: fc.integer({ min: 0, max: 15 }) }).map(({ name, access }) => node(name, 'Variable', [], access)),
    fc.tuple(fc.constantFrom('Press', 'Press 2', 'Line', 'Temp', 'P'.repeat(70)), fc.array(d > 0 ? arbNode(d - 1) : fc.constant(node('Leaf', 'Variable', [], 1)), { maxLength: 4 })).map(([name, children]) => node(name, 'Object', children)),
  ),
);

function readable(n: BrowsedNode): BrowsedNode[] {
  const self = n.nodeClass === 'Variable' && n.accessLevel !== undefined && (n.accessLevel & 1) !== 0 ? [n] : [];
  return [...self, ...n.children.flatMap(readable)];
}

describe('opcua browse output', () => {
  it('gives every readable (numeric scalar) variable, in tree order, one unique config-safe name, and nothing else', () => {
    fc.assert(
      fc.property(arbNode(3), (root) => {
        const items = configItems(tree(root));
        expect(items.map((i) => i.nodeId)).toEqual(readable(root).map((v) => v.nodeId));
        expect(new Set(items.map((i) => i.name)).size).toBe(items.length);
        // The source's name pattern (devices/opcua/schema.ts).
        for (const i of items) expect(i.name).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,63}$/);
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

  it('makes items of readable numeric scalars only, and says why not of the others', () => {
    const v = (dataType: string, valueRank: number, accessLevel: number): BrowsedNode => ({ ...node('x', 'Variable', [], accessLevel), dataType, valueRank });
    expect([v('Double', -1, 1), v('Boolean', -1, 3), v('Int64', -1, 5)].map(notAnItem)).toEqual([undefined, undefined, undefined]);
    expect([v('Double', -1, 2), v('Double', 1, 1), v('String', -1, 1), v('LocalizedText', -1, 1)].map(notAnItem)).toEqual(['not readable', 'not a scalar (Double[])', 'not a number (String)', 'not a number (LocalizedText)']);
    // The source records no Decimal (node-opcua gives a structure): --yaml must not offer it.
    expect(notAnItem(v('Decimal', -1, 1))).toBe('not a number (Decimal)');
    for (const t of NUMERIC_DATA_TYPES) expect(notAnItem(v(t, -1, 1)), t).toBeUndefined();
  });
});
