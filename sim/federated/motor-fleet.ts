import { seededRandom } from '../../models/train/random.js';
import { DEFAULT_MOTOR, type MotorProfile } from '../mcu/signals.js';

/** One simulated gateway's machine: its name, the seed of its sensor noise and its profile. */
export interface FleetMotor {
  readonly gateway: string;
  readonly seed: number;
  readonly profile: MotorProfile;
}

/** Per profile parameter, the [low, high] range a fleet's motors are drawn from, and the share on 60 Hz mains. */
export type MotorRanges = Readonly<Partial<Record<Exclude<keyof MotorProfile, 'mainsHz'>, readonly [number, number]>>> & { readonly share60Hz?: number };

/**
 * The ranges the machines of one type in one plant differ over: the same motor model on
 * different drives and duties. Each gateway gets its own draw, so the fleet's data is NOT
 * identically distributed: speed (slip), vibration level (mounting), rated current, the load
 * profile (mean level, swing and period of its cycle), ambient temperature and cooling, and
 * sensor noise from half to three times the default (good sensors, long cables). The default
 * motor of the MCU simulator lies inside every range.
 */
export const PLANT_MOTOR_RANGES = {
  runningHz: [24, 25],
  vibrationG: [0.45, 0.55],
  ratedCurrentA: [7.5, 8.5],
  loadMean: [0.6, 0.8],
  loadSwing: [0.05, 0.25],
  loadPeriodS: [300, 1200],
  ambientC: [26, 34],
  riseAtFullLoadC: [38, 42],
  noiseScale: [0.5, 3],
  share60Hz: 0,
} as const satisfies MotorRanges;

/**
 * A harder fleet: motors of several types and plants in one task (speeds 20 to 27 Hz, a
 * quarter on 60 Hz mains, currents 4 to 14 A, ambient 20 to 38 degC). The README shows what
 * FedAvg makes of it (it levels off well above the centralised model).
 */
export const MIXED_MOTOR_RANGES = {
  runningHz: [20, 27],
  vibrationG: [0.3, 0.8],
  ratedCurrentA: [4, 14],
  loadMean: [0.45, 0.9],
  loadSwing: [0.05, 0.25],
  loadPeriodS: [300, 1200],
  ambientC: [20, 38],
  riseAtFullLoadC: [30, 50],
  noiseScale: [0.5, 3],
  share60Hz: 0.25,
} as const satisfies MotorRanges;

/**
 * `count` different motors, deterministic from `seed`: each parameter drawn uniformly from its
 * range (a parameter without one keeps the default motor's value), 60 Hz mains for the range's
 * share of them. Gateway names are `gw-00`, `gw-01`, ...; the first motors of a larger fleet
 * with the same seed are the motors of the smaller one (a 21st gateway joins 20).
 */
export function motorFleet(count: number, seed: number, ranges: MotorRanges = PLANT_MOTOR_RANGES): FleetMotor[] {
  if (!Number.isInteger(count) || count < 1 || count > 10_000) throw new RangeError(`a fleet of 1 to 10,000 motors, got ${count}`);
  const random = seededRandom(seed);
  const draw = (key: Exclude<keyof MotorProfile, 'mainsHz'>): number => {
    const range = ranges[key];
    const r = random();
    return range === undefined ? DEFAULT_MOTOR[key] : range[0] + (range[1] - range[0]) * r;
  };
  return Array.from({ length: count }, (_, i) => {
    const profile: MotorProfile = {
      runningHz: draw('runningHz'),
      vibrationG: draw('vibrationG'),
      ratedCurrentA: draw('ratedCurrentA'),
      loadMean: draw('loadMean'),
      loadSwing: draw('loadSwing'),
      loadPeriodS: draw('loadPeriodS'),
      ambientC: draw('ambientC'),
      riseAtFullLoadC: draw('riseAtFullLoadC'),
      noiseScale: draw('noiseScale'),
      mainsHz: random() < (ranges.share60Hz ?? 0) ? 60 : 50,
    };
    return { gateway: `gw-${String(i).padStart(2, '0')}`, seed: Math.floor(random() * 2 ** 31), profile };
  });
}
