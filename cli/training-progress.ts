import cliProgress from 'cli-progress';
import type { TrainingProgress } from '../models/model-dir/model-card.js';

/**
 * What `edgewise model train` shows while it trains: epoch, step, loss and the time left.
 * On a TTY one bar per epoch redrawn in place; otherwise (CI, a pipe, a log file) a line when
 * an epoch ends and at most one every `everyMs` within an epoch, so a long epoch still says it
 * is alive without flooding a log.
 */
export interface TrainingDisplay {
  update(p: TrainingProgress): void;
  line(text: string): void;
  done(): void;
}

/** Seconds left from the work done so far: steps of the epochs still to run at the pace seen. */
export function etaSeconds(p: TrainingProgress, elapsedMs: number, startEpoch: number): number | null {
  const doneSteps = (p.epoch - startEpoch) * p.steps + p.step;
  const totalSteps = (p.epochs - startEpoch + 1) * p.steps;
  if (doneSteps <= 0 || p.steps <= 0) return null;
  return Math.max(0, ((totalSteps - doneSteps) * elapsedMs) / doneSteps / 1000);
}

export function formatDuration(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return '?';
  const whole = Math.round(s);
  if (whole < 60) return `${whole}s`;
  const m = Math.floor(whole / 60);
  if (m < 60) return `${m}m${String(whole % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

function describe(p: TrainingProgress, eta: number | null): string {
  return `epoch ${p.epoch}/${p.epochs}, step ${p.step}/${p.steps}, loss ${p.loss.toPrecision(4)}, ETA ${formatDuration(eta)}`;
}

export class PlainTrainingDisplay implements TrainingDisplay {
  private readonly startMs: number;
  private lastMs: number;
  private startEpoch: number | null = null;

  constructor(
    private readonly out: (line: string) => void,
    private readonly everyMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {
    this.startMs = now();
    this.lastMs = this.startMs;
  }

  update(p: TrainingProgress): void {
    this.startEpoch ??= p.epoch;
    const t = this.now();
    const epochEnd = p.step >= p.steps;
    if (!epochEnd && t - this.lastMs < this.everyMs) return;
    this.lastMs = t;
    this.out(describe(p, etaSeconds(p, t - this.startMs, this.startEpoch)));
  }

  line(text: string): void {
    this.out(text);
  }

  done(): void {}
}

class TtyTrainingDisplay implements TrainingDisplay {
  private readonly bar: cliProgress.SingleBar;
  private readonly startMs = Date.now();
  private startEpoch: number | null = null;
  private started = false;
  private epoch = 0;

  constructor(stream: NodeJS.WriteStream) {
    this.bar = new cliProgress.SingleBar({ format: ' epoch {epoch}/{epochs} {bar} {value}/{total} steps  loss {loss}  ETA {eta_all}', barsize: 24, hideCursor: true, fps: 4, stream }, cliProgress.Presets.shades_classic);
  }

  update(p: TrainingProgress): void {
    this.startEpoch ??= p.epoch;
    const payload = { epoch: p.epoch, epochs: p.epochs, loss: p.loss.toPrecision(4), eta_all: formatDuration(etaSeconds(p, Date.now() - this.startMs, this.startEpoch)) };
    if (!this.started) {
      this.bar.start(p.steps, p.step, payload);
      this.started = true;
    } else if (p.epoch !== this.epoch) {
      this.bar.setTotal(p.steps);
    }
    this.epoch = p.epoch;
    this.bar.update(p.step, payload);
  }

  line(text: string): void {
    if (this.started) this.bar.stop();
    process.stderr.write(`${text}\n`);
    this.started = false;
  }

  done(): void {
    if (this.started) this.bar.stop();
    this.started = false;
  }
}

/** A bar on a TTY, plain lines otherwise; both on stderr, so stdout keeps the JSON line alone. */
export function trainingDisplayFor(stream: NodeJS.WriteStream = process.stderr): TrainingDisplay {
  if (stream.isTTY === true && process.env['TERM'] !== 'dumb') return new TtyTrainingDisplay(stream);
  return new PlainTrainingDisplay((line) => void stream.write(`${line}\n`));
}
