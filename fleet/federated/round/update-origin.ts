import type { UpdateMessage } from '../../protocol/federated/update-encoding.js';
import { rejected, type UpdateVerdict } from './rejection.js';

/**
 * The checks of who sent an update, before which round it is for: the message must name the
 * gateway it came from (the MQTT topic, which the broker's ACL makes authentic), answer this
 * task, and come from a gateway the registry knows and has not revoked. Null: all good.
 */
export function checkOrigin(sender: string, message: UpdateMessage, taskId: string, isActiveGateway: (gatewayId: string) => boolean): UpdateVerdict | null {
  if (message.client !== sender) return rejected('sender-mismatch', `the message says client "${message.client}", it came from "${sender}"`);
  if (message.task !== taskId) return rejected('wrong-task', `the message answers task "${message.task}", this is task "${taskId}"`);
  if (!isActiveGateway(sender)) return rejected('unknown-or-revoked-gateway', `"${sender}" is not an active gateway of the registry`);
  return null;
}
