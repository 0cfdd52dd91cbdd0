import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GATEWAY_OWN_COMMAND_KINDS, GATEWAY_OWN_PUBLISH_KINDS, filterMatches, gatewayPublishTopics, gatewaySubscribeFilters, isTopicFilter, mayPublish, maySubscribe, type Principal } from '../../../fleet/broker/acl.js';
import { FLEET_LEARNING_PREFIX, FLEET_RELEASE_TOPIC, GATEWAY_COMMAND_KINDS, GATEWAY_LEARNING_COMMAND_KINDS, GATEWAY_LEARNING_PUBLISH_KINDS, GATEWAY_PUBLISH_KINDS, gatewayTopic } from '../../../fleet/protocol/index.js';

const gatewayId = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
const twoGateways = fc.tuple(gatewayId, gatewayId).filter(([a, b]) => a !== b);
const gw = (gatewayId: string): Principal => ({ kind: 'gateway', gatewayId });
const fleet: Principal = { kind: 'fleet' };
const allKinds = [...GATEWAY_PUBLISH_KINDS, ...GATEWAY_COMMAND_KINDS, ...GATEWAY_LEARNING_PUBLISH_KINDS, ...GATEWAY_LEARNING_COMMAND_KINDS];

/** Topic levels that hit the interesting places of the tree, the two gateway ids included, plus noise. */
function levels(a: string, b: string): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom('edgewise', 'v1', 'gw', 'fleet', 'release', 'learning', '', '$SYS', a, b, ...allKinds),
    fc.constantFrom('+', '#'),
    fc.string({ maxLength: 6 }),
  );
}
const topicFrom = (a: string, b: string) => fc.array(levels(a, b), { minLength: 1, maxLength: 7 }).map((ls) => ls.join('/'));
/** Mostly well-formed topics and filters: sometimes the real root, then anything. */
const pathFrom = (a: string, b: string) =>
  fc.oneof(
    topicFrom(a, b),
    fc.array(levels(a, b), { minLength: 0, maxLength: 4 }).map((ls) => ['edgewise', 'v1', ...ls].join('/')),
    fc.array(levels(a, b), { minLength: 0, maxLength: 3 }).map((ls) => ['edgewise', 'v1', 'gw', b, ...ls].join('/')),
    fc.array(levels(a, b), { minLength: 0, maxLength: 3 }).map((ls) => ['edgewise', 'v1', 'gw', a, ...ls].join('/')),
    fc.array(levels(a, b), { minLength: 0, maxLength: 3 }).map((ls) => ['edgewise', 'v1', 'fleet', ...ls].join('/')),
    fc.array(levels(a, b), { minLength: 0, maxLength: 3 }).map((ls) => ['edgewise', 'v1', 'fleet', 'learning', ...ls].join('/')),
  );

describe('gateway ACL', () => {
  it('allows a gateway exactly its own publish topics and its own commands plus the fleet-wide reads', () => {
    expect(gatewayPublishTopics('press-1')).toEqual(['edgewise/v1/gw/press-1/records', 'edgewise/v1/gw/press-1/state', 'edgewise/v1/gw/press-1/health', 'edgewise/v1/gw/press-1/update-report', 'edgewise/v1/gw/press-1/learning-update', 'edgewise/v1/gw/press-1/learning-secagg']);
    expect(gatewaySubscribeFilters('press-1')).toEqual(['edgewise/v1/gw/press-1/release', 'edgewise/v1/gw/press-1/learning-invitation', 'edgewise/v1/gw/press-1/learning-ack', 'edgewise/v1/gw/press-1/learning-secagg-relay', 'edgewise/v1/fleet/release', 'edgewise/v1/fleet/learning/#']);
    for (const t of gatewayPublishTopics('press-1')) expect(mayPublish(gw('press-1'), t)).toBe(true);
    for (const f of gatewaySubscribeFilters('press-1')) expect(maySubscribe(gw('press-1'), f)).toBe(true);
    expect(maySubscribe(gw('press-1'), `${FLEET_LEARNING_PREFIX}/round-7/+`)).toBe(true);
  });

  it('refuses the examples that matter', () => {
    const p = gw('press-1');
    for (const t of ['edgewise/v1/gw/press-1/release', 'edgewise/v1/gw/press-1/learning-invitation', 'edgewise/v1/gw/press-1/learning-ack', 'edgewise/v1/gw/press-1/learning-secagg-relay', 'edgewise/v1/gw/press-2/learning-update', 'edgewise/v1/gw/press-2/learning-secagg', 'edgewise/v1/gw/press-2/records', FLEET_RELEASE_TOPIC, `${FLEET_LEARNING_PREFIX}/x`, 'edgewise/v1/gw/press-1/records/x', 'edgewise/v1/gw/press-1', 'other', '$SYS/x', 'edgewise/v1/gw/+/records', '']) {
      expect(mayPublish(p, t), t).toBe(false);
    }
    for (const f of ['#', '+/#', 'edgewise/#', 'edgewise/v1/#', 'edgewise/v1/gw/+/release', 'edgewise/v1/gw/press-1/#', 'edgewise/v1/gw/press-1/+', 'edgewise/v1/gw/press-2/release', 'edgewise/v1/gw/press-2/learning-invitation', 'edgewise/v1/gw/press-2/learning-secagg-relay', 'edgewise/v1/gw/press-1/learning-secagg', 'edgewise/v1/gw/+/learning-ack', 'edgewise/v1/fleet/#', 'edgewise/v1/fleet/+', `${FLEET_LEARNING_PREFIX}/a#`, '+/v1/fleet/release', '']) {
      expect(maySubscribe(p, f), f).toBe(false);
    }
  });

  it('lets the fleet principal anywhere under edgewise/v1/ and nowhere else', () => {
    expect(mayPublish(fleet, gatewayTopic('press-1', 'release'))).toBe(true);
    expect(mayPublish(fleet, FLEET_RELEASE_TOPIC)).toBe(true);
    expect(maySubscribe(fleet, 'edgewise/v1/#')).toBe(true);
    expect(maySubscribe(fleet, 'edgewise/v1/gw/+/records')).toBe(true);
    for (const t of ['#', '$SYS/#', 'edgewise/v2/x', 'edgewise/v1', '+/v1/gw/a/records']) expect(maySubscribe(fleet, t), t).toBe(false);
    expect(mayPublish(fleet, 'edgewise/v1/gw/+/release')).toBe(false);
  });

  it('never lets a gateway publish to a topic naming another gateway, to a command topic or to the fleet tree', () => {
    fc.assert(
      fc.property(twoGateways.chain(([a, b]) => fc.tuple(fc.constant(a), fc.constant(b), pathFrom(a, b))), ([a, b, topic]) => {
        if (!mayPublish(gw(a), topic)) return;
        const levelsOf = topic.split('/');
        expect(levelsOf.slice(0, 4)).toEqual(['edgewise', 'v1', 'gw', a]);
        expect(levelsOf).toHaveLength(5);
        expect(GATEWAY_OWN_PUBLISH_KINDS as readonly string[]).toContain(levelsOf[4]);
        expect((GATEWAY_OWN_COMMAND_KINDS as readonly string[]).includes(levelsOf[4] as string)).toBe(false);
        // Naming b is only possible when b is a's id itself, which the generator excludes.
        expect(levelsOf[3]).not.toBe(b);
        expect(topic.startsWith('edgewise/v1/fleet')).toBe(false);
      }),
      { numRuns: 5_000 },
    );
  });

  it('never lets a gateway subscribe to a filter that matches another gateway\'s topic', () => {
    fc.assert(
      fc.property(twoGateways.chain(([a, b]) => fc.tuple(fc.constant(a), fc.constant(b), pathFrom(a, b))), ([a, b, filter]) => {
        if (!maySubscribe(gw(a), filter)) return;
        for (const kind of allKinds) expect(filterMatches(filter, `edgewise/v1/gw/${b}/${kind}`), `${filter} vs ${b}/${kind}`).toBe(false);
        // ...nor any of its own publish topics: a gateway reads only what is addressed to it or to all.
        for (const kind of GATEWAY_OWN_PUBLISH_KINDS) expect(filterMatches(filter, `edgewise/v1/gw/${a}/${kind}`)).toBe(false);
      }),
      { numRuns: 5_000 },
    );
  });

  it('allows only filters whose every match is the gateway\'s own command or a fleet-wide read', () => {
    fc.assert(
      fc.property(
        twoGateways.chain(([a, b]) => fc.tuple(fc.constant(a), pathFrom(a, b), fc.array(pathFrom(a, b), { minLength: 1, maxLength: 20 }))),
        ([a, filter, topics]) => {
          if (!maySubscribe(gw(a), filter)) return;
          for (const t of topics) {
            if (!filterMatches(filter, t)) continue;
            const readable = t === gatewayTopic(a, 'release') || t === FLEET_RELEASE_TOPIC || t === FLEET_LEARNING_PREFIX || t.startsWith(`${FLEET_LEARNING_PREFIX}/`);
            expect(readable, `${filter} matches ${t}`).toBe(true);
          }
        },
      ),
      { numRuns: 3_000 },
    );
  });

  it('never throws on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (id, s) => {
        mayPublish(gw(id), s);
        maySubscribe(gw(id), s);
        mayPublish(fleet, s);
        maySubscribe(fleet, s);
        filterMatches(s, id);
      }),
    );
  });

  it('matches filters like MQTT 3.1.1 section 4.7', () => {
    const cases: [string, string, boolean][] = [
      ['a/#', 'a', true],
      ['a/#', 'a/b/c', true],
      ['a/+', 'a', false],
      ['a/+', 'a/b', true],
      ['a/+', 'a/b/c', false],
      ['+/+', '/x', true],
      ['#', '$SYS/x', false],
      ['+/x', '$SYS/x', false],
      ['$SYS/#', '$SYS/x', true],
      ['a/b', 'a/b', true],
      ['a/b', 'a/b/', false],
    ];
    for (const [f, t, m] of cases) expect(filterMatches(f, t), `${f} ~ ${t}`).toBe(m);
    for (const bad of ['a/#/b', 'a#', 'a/b+', '', '#/a']) expect(isTopicFilter(bad), bad).toBe(false);
  });
});
