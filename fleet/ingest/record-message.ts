import { ProtocolError, decodeBatch, parseGatewayTopic, type RejectedRecord, type WireRecord } from '../protocol/index.js';

export interface RecordDelivery {
  readonly gatewayId: string;
  readonly records: readonly WireRecord[];
  readonly rejected: readonly RejectedRecord[];
}

/**
 * Decodes one message from `edgewise/v1/gw/{gw}/records`: the topic, the batch, and the check
 * that the batch names the gateway whose topic it came on. Throws ProtocolError.
 */
export function decodeRecordMessage(topic: string, payload: Uint8Array): RecordDelivery {
  const { gatewayId, kind } = parseGatewayTopic(topic);
  if (kind !== 'records') throw new ProtocolError('E_TOPIC_INVALID', `topic ${topic}: expected a records topic`);
  const batch = decodeBatch(payload);
  if (batch.gatewayId !== gatewayId) throw new ProtocolError('E_PAYLOAD_INVALID', `batch: gw ${batch.gatewayId} published on ${topic}`);
  return { gatewayId, records: batch.records, rejected: batch.rejected };
}
