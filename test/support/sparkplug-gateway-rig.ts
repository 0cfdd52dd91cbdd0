import { EmbeddedBroker } from '../../fleet/broker/embedded-broker.js';
import { makeTempDir } from './temp-dir.js';

/**
 * What a test of a gateway that is a Sparkplug edge node stands on: the fleet's broker, the
 * plant's broker and a temporary directory. What the test starts on top (a device simulator,
 * a host, the gateway) it hands to `later`, and `close` stops those in reverse order, then the
 * brokers and the directory.
 */
export class SparkplugGatewayRig {
  private readonly closers: (() => Promise<unknown>)[] = [];

  private constructor(
    readonly dir: { path: string; remove: () => Promise<void> },
    readonly fleet: EmbeddedBroker,
    readonly plant: EmbeddedBroker,
  ) {}

  static async create(prefix: string): Promise<SparkplugGatewayRig> {
    return new SparkplugGatewayRig(await makeTempDir(prefix), await EmbeddedBroker.create(), await EmbeddedBroker.create());
  }

  /** Returns `thing`, to be closed by `close` before what was handed over earlier. */
  later<T>(thing: T, close: (thing: T) => Promise<unknown>): T {
    this.closers.push(() => close(thing));
    return thing;
  }

  async close(): Promise<void> {
    for (const c of this.closers.splice(0).reverse()) await c();
    await this.plant.close();
    await this.fleet.close();
    await this.dir.remove();
  }
}
