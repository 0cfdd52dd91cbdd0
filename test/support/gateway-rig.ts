import { afterEach, beforeEach } from 'vitest';
import { EmbeddedBroker } from '../../fleet/broker/embedded-broker.js';
import type { Gateway } from '../../runtime/gateway.js';
import { makeTempDir } from './temp-dir.js';

/** A temp dir and an embedded broker per test; the test's gateway (if it sets one) is stopped after. */
export interface GatewayRig {
  dir: { path: string; remove: () => Promise<void> };
  broker: EmbeddedBroker;
  gateway: Gateway | undefined;
}

export function useGatewayRig(): GatewayRig {
  const rig = { gateway: undefined } as GatewayRig;
  beforeEach(async () => {
    rig.dir = await makeTempDir();
    try {
      rig.broker = await EmbeddedBroker.create();
    } catch (err) {
      await rig.dir.remove();
      throw err;
    }
    rig.gateway = undefined;
  });
  afterEach(async () => {
    await rig.gateway?.stop();
    await rig.broker.close();
    await rig.dir.remove();
  });
  return rig;
}
