/** Options of a conveyor scene, their defaults in one place, and their validation. */

export interface ConveyorSceneOptions {
  /** Frame size in pixels; both even (I420), at least 16. */
  width: number;
  height: number;
  fps: number;
  seed: number;
  /** Share of each run+still cycle the belt stands still, 0..1. Default 0. */
  stillShare?: number;
  /** Length of one run+still cycle in seconds; the run comes first. Default 10. */
  stillPeriodS?: number;
  /** Mean time between parts while the belt runs, in seconds of running. Default 1.2. */
  partEveryS?: number;
  /** Share of parts with a defect, 0..1. Default 0.3. */
  defectShare?: number;
  /** Belt speed while running. Default width / 4 per second (a part crosses in about 4 s). */
  speedPxPerS?: number;
}

export type ResolvedSceneOptions = Required<ConveyorSceneOptions>;

export class CameraSimError extends Error {
  override readonly name = 'CameraSimError';
  readonly code = 'E_CAMERA_SIM_OPTIONS';
}

export function resolveSceneOptions(options: ConveyorSceneOptions): ResolvedSceneOptions {
  const resolved: ResolvedSceneOptions = {
    width: options.width,
    height: options.height,
    fps: options.fps,
    seed: options.seed,
    stillShare: options.stillShare ?? 0,
    stillPeriodS: options.stillPeriodS ?? 10,
    partEveryS: options.partEveryS ?? 1.2,
    defectShare: options.defectShare ?? 0.3,
    speedPxPerS: options.speedPxPerS ?? options.width / 4,
  };
  const problems: string[] = [];
  const { width, height } = resolved;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width % 2 || height % 2 || width < 16 || height < 16) {
    problems.push(`width and height must be even integers >= 16 (I420 planes), got ${width}x${height}`);
  }
  if (!(resolved.fps > 0)) problems.push(`fps must be > 0, got ${resolved.fps}`);
  if (!Number.isFinite(resolved.seed)) problems.push(`seed must be a finite number, got ${resolved.seed}`);
  if (!(resolved.stillShare >= 0 && resolved.stillShare <= 1)) problems.push(`stillShare must be within 0..1, got ${resolved.stillShare}`);
  if (!(resolved.stillPeriodS > 0)) problems.push(`stillPeriodS must be > 0, got ${resolved.stillPeriodS}`);
  if (!(resolved.partEveryS > 0)) problems.push(`partEveryS must be > 0, got ${resolved.partEveryS}`);
  if (!(resolved.defectShare >= 0 && resolved.defectShare <= 1)) problems.push(`defectShare must be within 0..1, got ${resolved.defectShare}`);
  if (!(resolved.speedPxPerS >= 0 && Number.isFinite(resolved.speedPxPerS))) problems.push(`speedPxPerS must be a finite number >= 0, got ${resolved.speedPxPerS}`);
  if (problems.length > 0) throw new CameraSimError(`conveyor scene options: ${problems.join('; ')}`);
  return resolved;
}

