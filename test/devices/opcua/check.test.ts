import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseNodeId } from '../../../devices/opcua/node-id.js';
import { opcuaSchema } from '../../../devices/opcua/schema.js';
import { configProblems, expectCheckRefuses } from '../../support/config-check.js';

describe('opcua node ids', () => {
  it('accepts the string forms of Part 6 (ns, nsu; i, s, g, b)', () => {
    for (const id of ['i=2258', 'ns=2;s=Line1.Temp', 'ns=3;i=1001', 'ns=0;i=0', 'nsu=urn:plant:line1;s=Temp', 'ns=1;g=09087e75-8e5e-499b-954f-f2a9603db28a', 'ns=1;b=M/RbKBsRVkePCePcx24oRA==', 'ns=65535;i=4294967295']) {
      expect(parseNodeId(id)).toMatchObject({ ok: true });
    }
    expect(parseNodeId('nsu=urn:x;s=a;b')).toMatchObject({ ok: true, id: { namespace: null, namespaceUri: 'urn:x', kind: 's', value: 'a;b' } });
  });

  it('refuses malformed ones, saying what a node id looks like', () => {
    for (const id of ['ns=2;x=1', 'ns=2', 's=', 'ns=70000;i=1', 'ns=1;i=-3', 'ns=1;i=4294967296', 'ns=1;g=not-a-guid', 'Temp', 'ns=a;i=1', 'nsu=;i=1', 'ns=1;b=!!']) {
      const r = parseNodeId(id);
      expect(r.ok, id).toBe(false);
      if (!r.ok) expect(r.expected).toContain('a node id like ns=2;s=Line1.Temp');
    }
  });

  it('never throws, and round-trips every well-formed numeric and string id', () => {
    fc.assert(fc.property(fc.string({ maxLength: 60 }), (s) => void parseNodeId(s)));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 65_535 }), fc.oneof(fc.nat().map((n) => `i=${n}`), fc.string({ minLength: 1, maxLength: 40 }).map((s) => `s=${s}`)), (ns, rest) => {
        const r = parseNodeId(`ns=${ns};${rest}`);
        expect(r).toMatchObject({ ok: true, id: { namespace: ns, kind: rest[0], value: rest.slice(2) } });
      }),
    );
  });
});

describe('opcua config schema', () => {
  it('describes the pkiDir default the gateway uses (its state dir for the source, state/source-<id>)', () => {
    expect(opcuaSchema.properties.security.properties.pkiDir.description).toContain('default <dataDir>/state/source-<id>/pki');
  });
});

describe('opcua config check', () => {
  const bad = (dataDir: string): string => `gateway: { id: gw-1, dataDir: ${JSON.stringify(dataDir)} }
uplink: { url: "mqtt://127.0.0.1:1" }
devices:
  - id: press
    type: opcua
    endpoint: opc.tcp://127.0.0.1:4840/UA/Server
    subscriptions:
      - name: fast
        items:
          - { nodeId: "ns=2;s=Line1.Temp", name: temp, unit: degC }
          - { nodeId: "ns=2;x=7", name: pressure }
          - { nodeId: "Line1.Speed", name: speed }
          - { nodeId: "ns=2;i=1001", name: temp }
`;
  const forms = 'a node id like ns=2;s=Line1.Temp, ns=3;i=1001, i=2258, ns=1;g=<guid>, ns=1;b=<base64> or nsu=urn:plant:line1;s=Temp';
  const expected = [
    `devices[0].subscriptions[0].items[1].nodeId: expected ${forms} (the identifier must start with i=, s=, g= or b=), got ns=2;x=7 (line 11)`,
    `devices[0].subscriptions[0].items[2].nodeId: expected ${forms} (the identifier must start with i=, s=, g= or b=), got Line1.Speed (line 12)`,
    'devices[0].subscriptions[0].items[3].name: expected an item name unique in this source, got "temp", also subscriptions[0].items[0] (line 13)',
  ];

  it('names the path and YAML line of each bad node id', () => {
    expect(configProblems(bad('/tmp/x'))).toEqual(expected);
  });

  it('`edgewise gateway --check` exits 2 and prints them, no stack trace', { timeout: 30_000 }, async () => {
    await expectCheckRefuses(bad, expected);
  });
});
