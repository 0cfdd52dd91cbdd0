import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { filterMatches, gatewaySubscribeFilters, isTopicFilter, isTopicName, mayPublish, maySubscribe } from '../../../../fleet/broker/acl.js';
import {
  FLEET_LEARNING_FILTER,
  GATEWAY_COMMAND_KINDS,
  GATEWAY_LEARNING_COMMAND_KINDS,
  GATEWAY_LEARNING_PUBLISH_KINDS,
  GATEWAY_PUBLISH_KINDS,
  LEARNING_ANNOUNCEMENT_FILTER,
  LEARNING_TASK_PATTERN,
  LEARNING_UPDATE_FILTER,
  ProtocolError,
  TOPIC_ROOT,
  learningTopics,
  parseLearningAnnouncementTopic,
  parseLearningUpdateTopic,
} from '../../../../fleet/protocol/index.js';
import { TASK_ID_PATTERN } from '../../../../fleet/protocol/federated/index.js';
import { gatewayId, taskId } from './control-arbitraries.js';

describe('federated learning topics', () => {
  it('parse what they build, for every task and gateway id', () => {
    fc.assert(
      fc.property(taskId, gatewayId, (task, gw) => {
        expect(parseLearningAnnouncementTopic(learningTopics.announcement(task))).toBe(task);
        expect(parseLearningUpdateTopic(learningTopics.update(gw))).toBe(gw);
        for (const t of [learningTopics.announcement(task), learningTopics.invitation(gw), learningTopics.update(gw), learningTopics.chunkAck(gw)]) expect(isTopicName(t)).toBe(true);
        expect(filterMatches(LEARNING_ANNOUNCEMENT_FILTER, learningTopics.announcement(task))).toBe(true);
        expect(filterMatches(LEARNING_UPDATE_FILTER, learningTopics.update(gw))).toBe(true);
      }),
    );
    expect(isTopicFilter(LEARNING_ANNOUNCEMENT_FILTER) && isTopicFilter(LEARNING_UPDATE_FILTER)).toBe(true);
    // The task id of the topic is the task id of the update message.
    expect(LEARNING_TASK_PATTERN).toBe(TASK_ID_PATTERN);
  });

  it('refuse a task id that would break the topic tree, and foreign topics, with a typed error', () => {
    for (const bad of ['', 'a/b', '+', '#', '-x', 'x'.repeat(65)]) expect(() => learningTopics.announcement(bad)).toThrow(ProtocolError);
    for (const t of [`${TOPIC_ROOT}/fleet/learning/a/b/announcement`, `${TOPIC_ROOT}/fleet/learning/+/announcement`, `${TOPIC_ROOT}/fleet/learning/a/model`, 'x']) {
      expect(() => parseLearningAnnouncementTopic(t)).toThrow(ProtocolError);
    }
    for (const t of [`${TOPIC_ROOT}/gw/a/records`, `${TOPIC_ROOT}/gw/+/learning-update`, `${TOPIC_ROOT}/gw/a/b/learning-update`, 'edgewise/v2/gw/a/learning-update']) {
      expect(() => parseLearningUpdateTopic(t)).toThrow(ProtocolError);
    }
  });

  it('fit the broker rules: every gateway may read the announcement; per-gateway topics are one kind level of that gateway alone', () => {
    fc.assert(
      fc.property(taskId, gatewayId, gatewayId, (task, g, h) => {
        // The announcement is in the fleet's learning tree, which every gateway may read and none may write.
        expect(maySubscribe({ kind: 'gateway', gatewayId: h }, LEARNING_ANNOUNCEMENT_FILTER)).toBe(true);
        expect(filterMatches(FLEET_LEARNING_FILTER, learningTopics.announcement(task))).toBe(true);
        expect(mayPublish({ kind: 'gateway', gatewayId: h }, learningTopics.announcement(task))).toBe(false);
        // Per-gateway topics: `edgewise/v1/gw/{g}/{kind}`, the shape the ACL allows a gateway of its own.
        for (const [topic, kind] of [[learningTopics.invitation(g), 'learning-invitation'], [learningTopics.chunkAck(g), 'learning-ack'], [learningTopics.update(g), 'learning-update']] as const) {
          expect(topic).toBe(`${TOPIC_ROOT}/gw/${g}/${kind}`);
          expect(mayPublish({ kind: 'fleet' }, topic)).toBe(true);
          // No filter another gateway may hold reaches g's invitation or acknowledgement (the sample stays secret).
          if (h !== g) for (const f of gatewaySubscribeFilters(h)) expect(filterMatches(f, topic)).toBe(false);
        }
      }),
    );
    const existing: readonly string[] = [...GATEWAY_PUBLISH_KINDS, ...GATEWAY_COMMAND_KINDS];
    for (const k of [...GATEWAY_LEARNING_PUBLISH_KINDS, ...GATEWAY_LEARNING_COMMAND_KINDS]) expect(existing).not.toContain(k);
  });
});
