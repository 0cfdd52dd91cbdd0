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

/**
 * What makes one motor unlike another: its speed, how strongly it vibrates, its mains, its
 * load cycle, its cooling and how noisy its sensors are. The defaults are the motor the MCU
 * simulator has always sent; a fleet of different machines (sim/federated) varies them.
 */
export interface MotorProfile {
  /** Running speed; the vibration has it and its 2nd and 3rd harmonics. */
  readonly runningHz: number;
  /** Amplitude of the running-speed tone (g); the harmonics scale with it. */
  readonly vibrationG: number;
  /** Mains frequency of the current ripple (50 or 60 Hz). */
  readonly mainsHz: number;
  /** Current at full load (A). */
  readonly ratedCurrentA: number;
  /** Load (share of full) = loadMean + loadSwing x sin(2 pi t / loadPeriodS). */
  readonly loadMean: number;
  readonly loadSwing: number;
  readonly loadPeriodS: number;
  /** Winding temperature at no load, and its rise at full load (degC). */
  readonly ambientC: number;
  readonly riseAtFullLoadC: number;
  /** Multiplies every channel's sensor noise. */
  readonly noiseScale: number;
}

export const DEFAULT_MOTOR: MotorProfile = {
  runningHz: 24.5,
  vibrationG: 0.5,
  mainsHz: 50,
  ratedCurrentA: 8,
  loadMean: 0.7,
  loadSwing: 0.2,
  loadPeriodS: 600,
  ambientC: 30,
  riseAtFullLoadC: 40,
  noiseScale: 1,
};

/**
 * What each fault does, sized to be seen within seconds of a short simulated run:
 * - bearing-wear: an outer-race defect well into its life: a 1 g tone at 3.58x running speed
 *   with running-speed sidebands and 0.3 g of roughness (vibration RMS 0.37 -> 0.89 g).
 * - spikes: a loose connector: about one spike a second whatever the sample rate, on vibration
 *   (3 to 5 g) and current (up to +6 A).
 * - stuck: every channel repeats the value it had when the fault began.
 * - drift: the temperature reading climbs 6 degC a minute (a blocked fan, or a failing sensor,
 *   time-compressed for a run of minutes).
 */
const BEARING_TONE_G = 1;
const BEARING_ROUGHNESS_G = 0.3;
const SPIKES_PER_SECOND = 1;
const DRIFT_C_PER_MINUTE = 6;

export class MotorSignals {
  private readonly random: () => number;
  private readonly active = new Set<FaultKind>();
  private stuckValues: number[] | undefined;
  private driftStart = 0;
  private temperature: number;
  readonly faultLog: FaultEvent[] = [];
  readonly profile: MotorProfile;

  /**
   * `running`: the motor ran before sampling started, so its winding is at its load's level and
   * moves only with the load cycle (the simulator's plant: gateways join running machines). By
   * default it was switched on a while ago and warms for its first minutes.
   */
  constructor(seed: number, profile: Partial<MotorProfile> = {}, start: { readonly running?: boolean } = {}) {
    this.random = seededRandom(seed);
    this.profile = { ...DEFAULT_MOTOR, ...profile };
    // Switched on a while ago: a little above ambient, warming towards its load's level.
    this.temperature = this.profile.ambientC + (start.running === true ? this.profile.riseAtFullLoadC * this.profile.loadMean : 5);
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
    const p = this.profile;
    const t = index / rateHz;
    const w = 2 * Math.PI * p.runningHz * t;
    // With the default profile every extra factor below is exactly 1, so the default motor's
    // samples are bit for bit what they were before profiles existed (tested).
    const g = p.vibrationG / 0.5;
    const noise = p.noiseScale;
    let vibration = p.vibrationG * Math.sin(w) + 0.15 * g * Math.sin(2 * w + 0.3) + 0.05 * g * Math.sin(3 * w + 1.1) + 0.02 * noise * gaussian(this.random);
    if (this.active.has('bearing-wear')) {
      // Outer-race defect: a tone at ~3.6x running speed with running-speed sidebands, and roughness.
      vibration += BEARING_TONE_G * Math.sin(3.58 * w) * (1 + 0.5 * Math.sin(w)) + BEARING_ROUGHNESS_G * gaussian(this.random);
    }
    const load = p.loadMean + p.loadSwing * Math.sin((2 * Math.PI * t) / p.loadPeriodS); // by default a ten-minute load cycle
    this.temperature += ((p.ambientC + p.riseAtFullLoadC * load - this.temperature) * 1) / (rateHz * 300); // ~5 min time constant
    let temperature = this.temperature + 0.05 * noise * gaussian(this.random);
    let current = p.ratedCurrentA * load + 0.3 * (p.ratedCurrentA / 8) * Math.sin(2 * Math.PI * p.mainsHz * t) + 0.05 * noise * gaussian(this.random);
    if (this.active.has('drift')) temperature += (DRIFT_C_PER_MINUTE * (index - this.driftStart)) / rateHz / 60;
    if (this.active.has('spikes') && this.random() < SPIKES_PER_SECOND / rateHz) {
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
