import { availableParallelism, totalmem } from 'node:os';
import type { GatewayHardware } from '../../fleet/protocol/index.js';
import type { InferenceBackend } from '../../models/engine/engine.js';
import type { ComponentEvents } from './events.js';

/**
 * What the gateway runs on, for the health report. Arch, platform, cores and memory are
 * known at once; the accelerators are what the inference engine's provider probe found
 * usable, and that probe loads a session per compiled-in provider (seconds on a box with
 * CUDA libraries), so it runs in the background: until it answers, the list is empty.
 *
 * A probe that fails leaves the list empty too, rather than claiming `cpu`: the engine that
 * could not probe is the engine that would have to load the model, so a fleet that picks
 * gateways by accelerator should not pick this one; the failure is the `engine.probe_failed`
 * event (log line and counter).
 */
export class GatewayHardwareProbe {
  private readonly fixed: Omit<GatewayHardware, 'accelerators'>;
  private accelerators: readonly string[] = [];
  private probing: Promise<boolean> | undefined;

  constructor(
    private readonly backend: Pick<InferenceBackend, 'availableProviders'>,
    private readonly events: ComponentEvents,
  ) {
    this.fixed = { arch: process.arch, platform: process.platform, cpus: availableParallelism(), memoryBytes: totalmem() };
  }

  /**
   * Starts the probe (once; later calls return the same promise). Resolves `true` when the
   * probe answered, `false` when it failed; never rejects.
   */
  probe(): Promise<boolean> {
    this.probing ??= (async () => {
      const t0 = performance.now();
      try {
        const found = await this.backend.availableProviders();
        this.accelerators = Object.freeze([...found]);
        this.events.info('engine.probed', { accelerators: this.accelerators, ms: Math.round(performance.now() - t0) });
        return true;
      } catch (err) {
        this.events.error('engine.probe_failed', { code: 'E_ENGINE_PROBE', reason: (err as Error).message, ms: Math.round(performance.now() - t0) });
        return false;
      }
    })();
    return this.probing;
  }

  current(): GatewayHardware {
    return { ...this.fixed, accelerators: this.accelerators };
  }
}
