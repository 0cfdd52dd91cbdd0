import cliProgress from 'cli-progress';

/** The phases of a run, in order; each has a bar on a TTY. */
export type RunPhase = 'start' | 'run' | 'drain' | 'score';

const PHASE_TITLES: Readonly<Record<RunPhase, string>> = {
  start: 'gateways up',
  run: 'scenario   ',
  drain: 'drain      ',
  score: 'scorecard  ',
};

/**
 * What a run tells the person watching it: notable moments as lines (a fault played, a rollout
 * decision, the console's URL), and where it is: a phase with a total, its progress and the live
 * counts. `edgewise sim` shows them as a bar per phase on a TTY and as plain lines otherwise
 * (CI logs, a pipe); a test collects the lines.
 */
export interface RunProgress {
  line(text: string): void;
  /** A phase begins: its bar counts from 0 to `total` in `unit`. The one before it is complete. */
  phase(phase: RunPhase, total: number, unit: string): void;
  /** The current phase reached `value`; `counts` is the live tally shown beside its bar. */
  tick(value: number, counts: string): void;
  /** The run is over (every bar complete, the cursor given back); again is a no-op. */
  done(): void;
}

/** Lines only: each phase's start, a tick line at most every `everyMs`, every notable line. */
export class PlainProgress implements RunProgress {
  private current: { phase: RunPhase; total: number; unit: string } | null = null;
  private lastTickMs = 0;

  constructor(
    private readonly out: (line: string) => void,
    private readonly everyMs = 5000,
    private readonly now: () => number = Date.now,
  ) {}

  line(text: string): void {
    this.out(text);
  }

  phase(phase: RunPhase, total: number, unit: string): void {
    this.current = { phase, total, unit };
    this.lastTickMs = this.now();
    this.out(`${PHASE_TITLES[phase].trim()}: 0 of ${total} ${unit}`);
  }

  tick(value: number, counts: string): void {
    const c = this.current;
    if (c === null || this.now() - this.lastTickMs < this.everyMs) return;
    this.lastTickMs = this.now();
    this.out(`${PHASE_TITLES[c.phase].trim()}: ${Math.max(0, Math.round(value))} of ${c.total} ${c.unit}${counts === '' ? '' : `; ${counts}`}`);
  }

  done(): void {
    this.current = null;
  }
}

/**
 * A bar per phase on a TTY (cli-progress' MultiBar, redrawn in place a few times a second), the
 * finished phases' bars kept above the running one, notable lines printed above the bars.
 */
export class TtyProgress implements RunProgress {
  private readonly bars: cliProgress.MultiBar;
  private current: { bar: cliProgress.SingleBar; total: number; unit: string; counts: string } | null = null;
  private stopped = false;

  constructor(stream: NodeJS.WriteStream) {
    this.bars = new cliProgress.MultiBar(
      {
        format: ' {title} {bar} {value}/{total} {unit}  {counts}',
        barsize: 24,
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        autopadding: true,
        fps: 4,
        stream,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  line(text: string): void {
    this.bars.log(`${text}\n`);
  }

  phase(phase: RunPhase, total: number, unit: string): void {
    this.complete();
    const bar = this.bars.create(total, 0, { title: PHASE_TITLES[phase], unit, counts: '' });
    this.current = { bar, total, unit, counts: '' };
  }

  tick(value: number, counts: string): void {
    const c = this.current;
    if (c === null) return;
    c.counts = counts;
    c.bar.update(Math.max(0, Math.min(c.total, Math.round(value))), { counts });
  }

  done(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.complete();
    // Lines logged since the last redraw are written by the next one: draw once more, then stop.
    this.bars.update();
    this.bars.stop();
  }

  private complete(): void {
    const c = this.current;
    if (c !== null) c.bar.update(c.total, { counts: c.counts });
    this.current = null;
  }
}

/** The display `edgewise sim` uses on this stream: bars on a TTY, plain lines otherwise. */
export function progressFor(stream: NodeJS.WriteStream, everyMs?: number): RunProgress {
  if (stream.isTTY === true && process.env['TERM'] !== 'dumb') return new TtyProgress(stream);
  return new PlainProgress((line) => void stream.write(`${line}\n`), everyMs);
}

/** Wraps the line callback of a test or an embedder as a display of plain lines. */
export function asProgress(p: RunProgress | ((line: string) => void) | undefined, everyMs?: number): RunProgress {
  if (p === undefined) return new PlainProgress(() => undefined, everyMs);
  return typeof p === 'function' ? new PlainProgress(p, everyMs) : p;
}
