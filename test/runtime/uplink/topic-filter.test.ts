import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isWildcardFilter, topicMatches } from '../../../runtime/uplink/topic-filter.js';

const level = fc.stringMatching(/^[a-z0-9-]{0,4}$/);
const topic = fc.array(level, { minLength: 1, maxLength: 6 }).map((l) => l.join('/'));

describe('MQTT topic filters (the uplink dispatches wildcard subscriptions)', () => {
  it('matches the spec examples', () => {
    expect(topicMatches('edgewise/v1/fleet/learning/+/announcement', 'edgewise/v1/fleet/learning/press-ae/announcement')).toBe(true);
    expect(topicMatches('edgewise/v1/fleet/learning/+/announcement', 'edgewise/v1/fleet/learning/a/b/announcement')).toBe(false);
    expect(topicMatches('edgewise/v1/fleet/learning/+/announcement', 'edgewise/v1/fleet/learning/announcement')).toBe(false);
    expect(topicMatches('sport/tennis/#', 'sport/tennis')).toBe(true);
    expect(topicMatches('sport/tennis/#', 'sport/tennis/player1/ranking')).toBe(true);
    expect(topicMatches('sport/+', 'sport/')).toBe(true);
    expect(topicMatches('+/+', '/finance')).toBe(true);
    expect(topicMatches('#', '$SYS/broker')).toBe(false);
    expect(topicMatches('+/broker', '$SYS/broker')).toBe(false);
    expect(isWildcardFilter('a/+/b')).toBe(true);
    expect(isWildcardFilter('a/b+/c')).toBe(false);
  });

  it('a topic matches itself, # matches everything below its prefix, + matches any one level', () => {
    fc.assert(
      fc.property(topic, fc.nat(), (t, k) => {
        const levels = t.split('/');
        const cut = k % levels.length;
        const plus = levels.map((l, i) => (i === cut ? '+' : l)).join('/');
        const hash = [...levels.slice(0, cut), '#'].join('/');
        return topicMatches(t, t) && topicMatches(plus, t) && topicMatches(hash, t) && !topicMatches(`${t}/x`, t) && !topicMatches(plus, `${t}/x`);
      }),
    );
  });
});
