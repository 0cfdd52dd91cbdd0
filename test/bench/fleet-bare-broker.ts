import { EmbeddedBroker } from '../../fleet/broker/embedded-broker.js';

/**
 * The baseline of `bench fleet-ingest`, in its own process like the fleet: a bare aedes
 * broker (no authentication, no ACL) and an in-process subscriber that only counts what
 * gateways publish. The parent asks for the count over IPC.
 */
const broker = await EmbeddedBroker.create({ host: '127.0.0.1', port: 0 });
let count = 0;
await broker.subscribe('edgewise/v1/gw/+/+', () => {
  count += 1;
});
process.on('message', (m: { ask?: string }) => {
  if (m.ask === 'count') process.send?.({ count });
  if (m.ask === 'stop') void broker.close().then(() => process.exit(0));
});
process.send?.({ port: broker.listeningPort });
