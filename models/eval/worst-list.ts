/**
 * The `size` worst items seen so far by a ranking (`before(a, b)`: a is worse than b), in
 * bounded memory: items are appended and the list is cut back to `size` whenever it reaches
 * four times that, so adding costs amortised O(log size) and the list never holds more than
 * 4 x size items however many images are evaluated.
 */
export class WorstList<T> {
  private items: T[] = [];

  constructor(
    readonly size: number,
    private readonly before: (a: T, b: T) => number,
  ) {}

  add(item: T): void {
    if (this.size <= 0) return;
    this.items.push(item);
    if (this.items.length >= 4 * this.size) this.cut();
  }

  /** The worst first, at most `size`. */
  list(): T[] {
    this.cut();
    return [...this.items];
  }

  private cut(): void {
    this.items.sort(this.before);
    this.items.length = Math.min(this.items.length, this.size);
  }
}
