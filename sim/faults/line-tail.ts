/**
 * The last `maxLines` lines of a child's output, each cut to `maxLineChars`: enough to say
 * why a gateway died, with a bound however much it writes.
 */
export class LineTail {
  private readonly lines: string[] = [];
  /** Every line seen, kept or not. */
  seen = 0;

  constructor(
    private readonly maxLines: number,
    private readonly maxLineChars = 4096,
  ) {}

  push(line: string): void {
    this.seen += 1;
    this.lines.push(line.length > this.maxLineChars ? `${line.slice(0, this.maxLineChars)}...` : line);
    if (this.lines.length > this.maxLines) this.lines.shift();
  }

  get(): readonly string[] {
    return [...this.lines];
  }

  text(): string {
    return this.lines.join('\n');
  }
}
