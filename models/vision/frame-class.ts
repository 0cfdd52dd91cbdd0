import type { SourceClass } from './vision-model.js';

/** A change of the class a stream's frames are in. */
export interface ClassChange {
  readonly classId: number;
  /** undefined: the first class the stream was in. */
  readonly previous: number | undefined;
}

/**
 * The class a camera's frames are in, for a whole-frame classifier: it changes when another
 * class is top, at or above `confidence`, on `minFrames` inferred frames in a row, so a
 * classifier that wavers between two classes on one frame does not make an event each time
 * (one event per change, not one message per frame). A frame with no class that sure changes
 * nothing and breaks a run.
 */
export class FrameClass {
  private current: number | undefined;
  private next: number | undefined;
  private run = 0;

  constructor(private readonly o: { readonly confidence: number; readonly minFrames: number }) {}

  update(top: SourceClass | undefined): ClassChange | undefined {
    const id = top !== undefined && top.score >= this.o.confidence ? top.classId : undefined;
    if (id === undefined || id === this.current) {
      this.next = undefined;
      this.run = 0;
      return undefined;
    }
    if (id !== this.next) {
      this.next = id;
      this.run = 0;
    }
    this.run += 1;
    if (this.run < this.o.minFrames) return undefined;
    const previous = this.current;
    this.current = id;
    this.next = undefined;
    this.run = 0;
    return { classId: id, previous };
  }
}
