import { seededRandom } from '../../train/random.js';

/**
 * A uniform random sample of fixed size from a stream of windows (Vitter's algorithm R), so a
 * gateway can learn from hours of normal running (every load, every shift) in bounded memory.
 * Deterministic from the seed; `take` returns the kept windows oldest first.
 */
export class WindowReservoir {
  private readonly data: Float64Array;
  private readonly order: Float64Array;
  private readonly position: Float64Array;
  private readonly random: () => number;
  private offered = 0;

  constructor(
    readonly capacity: number,
    readonly dims: number,
    seed: number,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`reservoir capacity must be a positive integer, got ${capacity}`);
    this.data = new Float64Array(capacity * dims);
    this.order = new Float64Array(capacity);
    this.position = new Float64Array(capacity);
    this.random = seededRandom(seed);
  }

  /** Windows offered so far. */
  get seen(): number {
    return this.offered;
  }

  get size(): number {
    return Math.min(this.offered, this.capacity);
  }

  /** Offers a window; `position` says where it starts (e.g. its first sample's index). */
  offer(window: Float64Array, position: number): void {
    if (window.length !== this.dims) throw new RangeError(`window of ${window.length} values, reservoir holds ${this.dims}`);
    const i = this.offered;
    this.offered += 1;
    const slot = i < this.capacity ? i : Math.floor(this.random() * (i + 1));
    if (slot >= this.capacity) return;
    this.data.set(window, slot * this.dims);
    this.order[slot] = i;
    this.position[slot] = position;
  }

  take(): { data: Float64Array; count: number; positions: Float64Array } {
    const count = this.size;
    const slots = Array.from({ length: count }, (_, k) => k).sort((a, b) => (this.order[a] as number) - (this.order[b] as number));
    const out = new Float64Array(count * this.dims);
    const positions = new Float64Array(count);
    slots.forEach((slot, k) => {
      out.set(this.data.subarray(slot * this.dims, (slot + 1) * this.dims), k * this.dims);
      positions[k] = this.position[slot] as number;
    });
    return { data: out, count, positions };
  }
}
