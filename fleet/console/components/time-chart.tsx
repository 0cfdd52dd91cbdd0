/**
 * A time chart drawn by uPlot (canvas; about 50 KB minified, fast for long series) inside a
 * captioned figure. The legend is ours, plain DOM with units, so it reads without the canvas.
 * Series may be stacked: each drawn as the running sum of those before it, filled down to the
 * one below, so the top of the last is the total (uPlot has no stacking of its own).
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** Series colours: each at least 4.5:1 against the page's dark background. */
export const SERIES_COLOURS = ['#6cb6ff', '#f2cc60', '#7ee2a8', '#ff9492', '#d2a8ff', '#ffa657', '#76e3ea', '#e6edf3'];

export interface TimeSeries {
  readonly label: string;
  /** One value per time (null: no value there). */
  readonly values: readonly (number | null)[];
}

export interface TimeChartProps {
  /** With a caption the chart is a figure with a legend; without, only the canvas (inside the caller's figure). */
  readonly caption?: ComponentChildren;
  /** Milliseconds since 1970, ascending. */
  readonly times: readonly number[];
  readonly series: readonly TimeSeries[];
  readonly stacked?: boolean;
  readonly yLabel?: string;
  /** A fixed y range (shares: [0, 1]); default: fitted to the data. */
  readonly yRange?: readonly [number, number];
  readonly height?: number;
  readonly legendTestId?: string;
  readonly children?: ComponentChildren;
}

function stack(series: readonly TimeSeries[]): (number | null)[][] {
  const out: (number | null)[][] = [];
  let below: (number | null)[] | null = null;
  for (const s of series) {
    const b: (number | null)[] | null = below;
    const sum: (number | null)[] = s.values.map((v, i): number | null => (v === null && (b === null || b[i] === null) ? null : (v ?? 0) + (b === null ? 0 : (b[i] ?? 0))));
    out.push(sum);
    below = sum;
  }
  return out;
}

/** A line needs two points; a chart of nothing but gaps says nothing. */
function drawable(props: TimeChartProps): boolean {
  return props.times.length >= 2 && props.series.some((s) => s.values.some((v) => v !== null));
}

export function TimeChart(props: TimeChartProps) {
  const host = useRef<HTMLDivElement>(null);
  const draw = drawable(props);
  useEffect(() => {
    const el = host.current;
    if (el === null || !draw) return;
    const values = props.stacked === true ? stack(props.series) : props.series.map((s) => [...s.values]);
    const data = [props.times.map((t) => t / 1000), ...values] as uPlot.AlignedData;
    const opts: uPlot.Options = {
      width: Math.max(320, el.clientWidth),
      height: props.height ?? 240,
      legend: { show: false },
      ...(props.yRange === undefined ? {} : { scales: { y: { range: [props.yRange[0], props.yRange[1]] as uPlot.Range.MinMax } } }),
      cursor: { drag: { x: false, y: false } },
      axes: [
        { stroke: '#c9d1d9', grid: { stroke: '#30363d' }, ticks: { stroke: '#30363d' } },
        { stroke: '#c9d1d9', grid: { stroke: '#30363d' }, ticks: { stroke: '#30363d' }, ...(props.yLabel === undefined ? {} : { label: props.yLabel }) },
      ],
      series: [
        {},
        ...props.series.map((s, i) => {
          const colour = SERIES_COLOURS[i % SERIES_COLOURS.length] as string;
          return { label: s.label, stroke: colour, width: 2, ...(props.stacked === true ? { fill: `${colour}66` } : {}), spanGaps: false };
        }),
      ],
      ...(props.stacked === true ? { bands: props.series.slice(1).map((_, i) => ({ series: [i + 2, i + 1] as [number, number] })) } : {}),
    };
    const plot = new uPlot(opts, data, el);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(320, el.clientWidth), height: props.height ?? 240 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [draw, props.times, props.series, props.stacked, props.height, props.yLabel, props.yRange?.[0], props.yRange?.[1]]);

  if (props.caption === undefined) return !draw ? null : <div ref={host} class="chart-canvas" role="img" aria-label={`Chart of ${props.series.map((s) => s.label).join(', ')}`} />;
  return (
    <figure class="chart">
      <figcaption>{props.caption}</figcaption>
      {!draw ? <p class="muted">{props.times.length === 0 ? 'No samples in this span.' : 'Not enough values to draw yet.'}</p> : <div ref={host} class="chart-canvas" role="img" aria-label={`Chart of ${props.series.map((s) => s.label).join(', ')}`} />}
      <ul class="legend">
        {props.series.map((s, i) => (
          <li key={s.label} data-testid={props.legendTestId}>
            <span class="swatch" aria-hidden="true" style={{ background: SERIES_COLOURS[i % SERIES_COLOURS.length] }} />
            {s.label}
          </li>
        ))}
      </ul>
      {props.children}
    </figure>
  );
}
