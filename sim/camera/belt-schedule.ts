/**
 * When the belt runs and how far it has gone: a pure function of time, so any frame can
 * be rendered without replaying the ones before it. Each cycle runs first, then stands still.
 */
export class BeltSchedule {
  private readonly runS: number;

  constructor(
    private readonly speedPxPerS: number,
    stillShare: number,
    private readonly periodS: number,
    /** Travel at t = 0: lets the belt start already loaded with parts. */
    private readonly prerollPx: number,
  ) {
    this.runS = periodS * (1 - stillShare);
  }

  /** Belt travel in pixels at time t (negative t extends the same periodic schedule). */
  travelPx(tS: number): number {
    const cycles = Math.floor(tS / this.periodS);
    const intoCycle = tS - cycles * this.periodS;
    return this.prerollPx + this.speedPxPerS * (cycles * this.runS + Math.min(intoCycle, this.runS));
  }
}
