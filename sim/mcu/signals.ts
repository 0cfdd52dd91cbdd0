import { gaussian, seededRandom } from '../../devices/synthetic/signals.js';

/**
 * Signals of a small motor drive, as an MCU would sample them: vibration (running speed and
 * its harmonics, plus noise), winding temperature (slow drift towards a load-dependent
 * level), motor current (mains-frequency ripple around the load current). Faults can be
 * switched on and off; each switch is logged with the sample index, so every sample has a
 * known label.
 */
export const FAULT_KINDS = ['bearing-wear', 'spikes', 'stuck', 'drift'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultEvent {
  readonly kind: FaultKind;
  readonly on: boolean;
  /** The first sample index the change applies to. */
  readonly atIndex: number;
}

export const MOTOR_CHANNELS = [
  { name: 'vibration', unit: 'g' },
  { name: 'temperature', unit: 'degC' },
  { name: 'current', unit: 'A' },
] as const;

export class MotorSignals {
  private readonly random: () => number;
  private readonly active = new Set<FaultKind>();
  private stuckValues: number[] | undefined;
  private driftStart = 0;
  private temperature = 35;
  readonly faultLog: FaultEvent[] = [];

  constructor(
    seed: number,
    private readonly runningHz = 24.5,
  ) {
    this.random = seededRandom(seed);
  }

  setFault(kind: FaultKind, on: boolean, atIndex: number): void {
    if (on === this.active.has(kind)) return;
    if (on) this.active.add(kind);
    else this.active.delete(kind);
    if (kind === 'stuck') this.stuckValues = undefined;
    if (kind === 'drift') this.driftStart = atIndex;
    this.faultLog.push({ kind, on, atIndex });
  }

  get faults(): readonly FaultKind[] {
    return [...this.active];
  }

  /** Values of every channel for sample `index` at `rateHz`. */
  sample(index: number, rateHz: number): number[] {
    const t = index / rateHz;
    const w = 2 * Math.PI * this.runningHz * t;
    let vibration = 0.5 * Math.sin(w) + 0.15 * Math.sin(2 * w + 0.3) + 0.05 * Math.sin(3 * w + 1.1) + 0.02 * gaussian(this.random);
    if (this.active.has('bearing-wear')) {
      // Outer-race defect: a tone at ~3.6x running speed with sidebands, growing roughness.
      vibration += 0.35 * Math.sin(3.58 * w) * (1 + 0.5 * Math.sin(w)) + 0.08 * gaussian(this.random);
    }
    const load = 0.7 + 0.2 * Math.sin((2 * Math.PI * t) / 600); // ten-minute load cycle
    this.temperature += ((30 + 40 * load - this.temperature) * 1) / (rateHz * 300); // ~5 min time constant
    let temperature = this.temperature + 0.05 * gaussian(this.random);
    let current = 8 * load + 0.3 * Math.sin(2 * Math.PI * 50 * t) + 0.05 * gaussian(this.random);
    if (this.active.has('drift')) temperature += (0.5 * (index - this.driftStart)) / rateHz / 60; // +0.5 degC a minute
    if (this.active.has('spikes') && this.random() < 0.002) {
      vibration += (this.random() < 0.5 ? -1 : 1) * (3 + 2 * this.random());
      current += 6 * this.random();
    }
    const values = [vibration, temperature, current];
    if (this.active.has('stuck')) {
      this.stuckValues ??= values;
      return [...this.stuckValues];
    }
    return values;
  }
}
