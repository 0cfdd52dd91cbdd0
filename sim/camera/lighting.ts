/**
 * Light on the belt: a static left-to-right vignette (the lamp sits left of centre) times a
 * global brightness that drifts by up to +-15% over tens of seconds (clouds, other lamps).
 */

/** Vignette gain at the frame's darkest edge (1 at the brightest column). */
const VIGNETTE_EDGE_GAIN = 0.8;
const LAMP_POSITION_SHARE = 0.42;

/**
 * Two slow waves, amplitudes summing to 0.15. Their periods bound the drift: at most
 * 2*pi*(0.09/37 + 0.06/23) ~ 0.032 of full scale per second, about 8 grey levels per second
 * on a bright part, i.e. <= 0.5 grey levels per frame at >= 16 fps.
 */
const DRIFT_WAVES = [
  { amplitude: 0.09, periodS: 37 },
  { amplitude: 0.06, periodS: 23 },
] as const;

export class Lighting {
  /** Static per-column gain. */
  readonly vignette: Float32Array;
  private readonly phases: number[];

  constructor(width: number, random: () => number) {
    this.vignette = new Float32Array(width);
    const lamp = LAMP_POSITION_SHARE * width;
    const reach = Math.max(lamp, width - lamp);
    for (let x = 0; x < width; x++) {
      const d = (x + 0.5 - lamp) / reach;
      this.vignette[x] = 1 - (1 - VIGNETTE_EDGE_GAIN) * d * d;
    }
    this.phases = DRIFT_WAVES.map(() => random() * 2 * Math.PI);
  }

  /** Global brightness at time t, within 0.85..1.15. */
  brightness(tS: number): number {
    let gain = 1;
    DRIFT_WAVES.forEach((wave, i) => {
      gain += wave.amplitude * Math.sin((2 * Math.PI * tS) / wave.periodS + (this.phases[i] as number));
    });
    return gain;
  }

  /** Writes vignette * brightness into `out` (one gain per column). */
  columnGains(brightness: number, out: Float32Array): Float32Array {
    for (let x = 0; x < out.length; x++) out[x] = (this.vignette[x] as number) * brightness;
    return out;
  }
}
