/**
 * A fixed camera looking down at a conveyor belt: textured belt moving +x in run/stand
 * cycles, parts (some defective) riding it, slowly drifting light, a sensor with +-1 grey
 * level of noise. Every frame comes with exact ground truth.
 */
import { BeltSchedule } from './belt-schedule.js';
import { BeltTexture } from './belt-texture.js';
import { CameraCanvas, type PlacedPart } from './camera-canvas.js';
import { Lighting } from './lighting.js';
import { PartFeed } from './part-feed.js';
import { randomStream } from './random-streams.js';
import { resolveSceneOptions, type ConveyorSceneOptions, type ResolvedSceneOptions } from './scene-options.js';
import type { ConveyorFrame, PartTruth } from './types.js';

export class ConveyorScene {
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  readonly options: Readonly<ResolvedSceneOptions>;
  private readonly schedule: BeltSchedule;
  private readonly canvas: CameraCanvas;
  private readonly lighting: Lighting;
  private readonly feed: PartFeed;
  private readonly sensorRandom: () => number;
  private readonly columnGains: Float32Array;
  private readonly log: PartTruth[] = [];
  private index = 0;

  constructor(options: ConveyorSceneOptions) {
    const resolved = resolveSceneOptions(options);
    this.options = resolved;
    const { width, height, fps, seed } = resolved;
    this.width = width;
    this.height = height;
    this.fps = fps;
    const look = randomStream(seed, 'look');
    const belt = new BeltTexture(width, height, look);
    this.canvas = new CameraCanvas(belt, look);
    this.lighting = new Lighting(width, look);
    this.columnGains = new Float32Array(width);
    this.sensorRandom = randomStream(seed, 'sensor');
    // Start with the belt already loaded: it has "run" one frame width before t = 0.
    const prerollPx = width + height;
    this.schedule = new BeltSchedule(resolved.speedPxPerS, resolved.stillShare, resolved.stillPeriodS, prerollPx);
    this.feed = new PartFeed({
      width,
      height,
      beltTop: belt.top,
      beltBottom: belt.bottom,
      // Parts are laid on the belt per distance travelled, so none arrive while it stands.
      meanSpacingPx: Math.max(1, resolved.speedPxPerS * resolved.partEveryS),
      defectShare: resolved.defectShare,
      random: randomStream(seed, 'parts'),
    });
  }

  /**
   * The first sighting of every part so far (its truth in the first frame it showed), in
   * the order parts appeared. Grows by one entry per part: about 3,000 per running hour
   * at the defaults.
   */
  get partsLog(): readonly PartTruth[] {
    return this.log;
  }

  /** Renders the next frame. Its planes are new arrays the caller owns. */
  next(): ConveyorFrame {
    const index = this.index++;
    const tS = index / this.fps;
    const travel = Math.round(this.schedule.travelPx(tS));
    // Frame 0 compares with one frame earlier on the same periodic schedule.
    const moving = travel !== Math.round(this.schedule.travelPx(tS - 1 / this.fps));

    this.canvas.paintBelt(travel);
    const parts: PartTruth[] = [];
    const placed: PlacedPart[] = [];
    for (const part of this.feed.onScreen(travel)) {
      const at: PlacedPart = { sprite: part.sprite, x: travel - part.anchor, y: part.top };
      const placement = this.canvas.drawPart(at);
      if (!placement) continue;
      const truth: PartTruth = { id: part.id, shape: part.spec.shape, defect: part.spec.defect, ...placement };
      parts.push(truth);
      placed.push(at);
      if (!part.seen) {
        part.seen = true;
        this.log.push({ ...truth, box: { ...truth.box } });
      }
    }
    const gains = this.lighting.columnGains(this.lighting.brightness(tS), this.columnGains);
    const y = this.canvas.exposeLuma(gains, this.sensorRandom);
    const { u, v } = this.canvas.chroma(placed);
    return {
      index,
      timestampUs: Math.round((index * 1e6) / this.fps),
      width: this.width,
      height: this.height,
      y,
      u,
      v,
      moving,
      parts,
    };
  }
}
