import fc from 'fast-check';
import { schema } from 'tjs';
import { describe, expect, it } from 'vitest';
import { HostStateTracker, parseHostState, stateTopics } from '../../../../runtime/uplink/sparkplug/host-state.js';
import { checkSparkplug, deviceOfSource, sparkplugSchema, sparkplugSettings, type SparkplugSection } from '../../../../runtime/uplink/sparkplug/schema.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('primary host STATE', () => {
  it('reads 3.0 JSON and 2.2 words, on their own topics', () => {
    expect(stateTopics('ign', 'auto')).toEqual(['spBv1.0/STATE/ign', 'STATE/ign']);
    expect(parseHostState('spBv1.0/STATE/ign', bytes('{"online":true,"timestamp":1700000000000}'))).toEqual({ online: true, timestamp: 1_700_000_000_000 });
    expect(parseHostState('STATE/ign', bytes('OFFLINE'))).toEqual({ online: false, timestamp: undefined });
    expect(() => parseHostState('spBv1.0/STATE/ign', bytes('ONLINE'))).toThrow(/JSON object/);
    expect(() => parseHostState('spBv1.0/STATE/ign', bytes('{"online":"yes","timestamp":1}'))).toThrow(/"online" to be true or false, got "yes"/);
    expect(() => parseHostState('spBv1.0/STATE/ign', bytes('{"online":true}'))).toThrow(/"timestamp"/);
  });

  it('turns any payload into a state or an Error with a message, never anything else', () => {
    fc.assert(
      fc.property(fc.constantFrom('spBv1.0/STATE/h', 'STATE/h'), fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.json().map(bytes)), (topic, payload) => {
        try {
          const s = parseHostState(topic, payload);
          expect(typeof s.online).toBe('boolean');
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
          expect((err as Error).message).toMatch(/^expected /);
        }
      }),
    );
  });

  it('with both formats, listens to 2.2 words only until the host has spoken 3.0', () => {
    const t = new HostStateTracker();
    expect(t.accept({ online: true, timestamp: undefined })).toBe(true);
    expect(t.accept({ online: false, timestamp: undefined })).toBe(true);
    expect(t.accept({ online: true, timestamp: 5 })).toBe(true);
    expect(t.accept({ online: false, timestamp: undefined })).toBe(false); // a retained OFFLINE of an old 2.2 client
    expect(t.online).toBe(true);
  });

  it('ignores a 3.0 message older than the last accepted one (a stale offline Will), whatever the order', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ online: fc.boolean(), timestamp: fc.integer({ min: 0, max: 1000 }) }), { minLength: 1, maxLength: 30 }), (states) => {
        const t = new HostStateTracker();
        let newest = -1;
        let expected: boolean | undefined;
        let ignored = 0;
        for (const s of states) {
          const accepted = t.accept(s);
          expect(accepted).toBe(s.timestamp >= newest);
          if (accepted) {
            newest = s.timestamp;
            expected = s.online;
          } else ignored += 1;
        }
        expect(t.online).toBe(expected === true);
        expect(t.staleIgnored).toBe(ignored);
      }),
    );
  });
});

describe('the sparkplug config section', () => {
  const valid: SparkplugSection = { url: 'mqtt://scada:1883', groupId: 'Plant1', edgeNodeId: 'gw-01', sources: [{ id: 'press-1', metrics: [{ name: 't', type: 'Double', unit: 'degC' }] }] };
  const validator = schema(sparkplugSchema);

  it('accepts a minimal section and fills in the defaults in one place', () => {
    expect(validator.validate(valid).error).toBeUndefined();
    expect(checkSparkplug(valid, new Set(['press-1']))).toEqual([]);
    expect(sparkplugSettings(valid)).toMatchObject({ clientId: 'edgewise-spb-Plant1-gw-01', stateFormat: 'v3', qos: 1, datatypeInData: false, maxInFlight: 16, batchMaxRecords: 100, tls: { rejectUnauthorized: true } });
  });

  it('refuses Sparkplug ids with topic characters and unknown datatypes', () => {
    expect(validator.validate({ ...valid, groupId: 'Plant/1' }).error).toBeDefined();
    expect(validator.validate({ ...valid, edgeNodeId: 'gw#1' }).error).toBeDefined();
    expect(validator.validate({ ...valid, sources: [{ id: 'p', metrics: [{ name: 't', type: 'Decimal' }] }] }).error).toBeDefined();
    expect(validator.validate({ ...valid, url: 'http://scada' }).error).toBeDefined();
  });

  it('names the path of each cross-field problem', () => {
    const bad: SparkplugSection = {
      ...valid,
      stateFormat: 'v2',
      tls: { cert: 'c.pem' },
      sources: [
        { id: 'press-1', metrics: [{ name: 't' }, { name: 't' }] },
        { id: 'press/2', metrics: [{ name: 'x' }] },
        { id: 'other', deviceId: 'press-1', metrics: [{ name: 'x' }] },
      ],
    };
    expect(checkSparkplug(bad, new Set(['press-1', 'other'])).map((p) => p.path.join('.'))).toEqual(['stateFormat', 'tls.key', 'sources.0.metrics.1.name', 'sources.1.id', 'sources.1.id', 'sources.2.deviceId']);
  });

  it('takes a part of a device as a source of its own: <device id>.<slave>, the longest device id that fits', () => {
    const parts: SparkplugSection = { ...valid, sources: [{ id: 'plc.press1', metrics: [{ name: 'x' }] }, { id: 'plc.press2', deviceId: 'press2', metrics: [{ name: 'x' }] }, { id: 'plcx.press3', metrics: [{ name: 'x' }] }, { id: 'plc.', metrics: [{ name: 'x' }] }] };
    const problems = checkSparkplug(parts, new Set(['plc', 'press-1']));
    expect(problems.map((p) => `${p.path.join('.')}: ${p.got}`)).toEqual(['sources.2.id: "plcx.press3"', 'sources.3.id: "plc."']);
    expect(problems[0]?.expected).toContain('or one followed by a part of its streams, like <modbus id>.<slave name>');
    expect(deviceOfSource('plc.press1.fast', ['plc', 'plc.press1'])).toEqual({ deviceId: 'plc.press1', scope: 'fast' });
    expect(deviceOfSource('plc', ['plc', 'plc.press1'])).toEqual({ deviceId: 'plc', scope: undefined });
    expect(deviceOfSource('plc2', ['plc'])).toBeUndefined();
  });
});
