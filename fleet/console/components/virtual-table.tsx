/**
 * A table that shows 10,000 rows without 10,000 rows in the DOM: rows have one fixed height,
 * so the rows in view follow from the scroll offset, and only those (plus a few either side)
 * are rendered, placed absolutely in a spacer as tall as the whole table. ARIA table roles
 * with aria-rowcount/aria-rowindex tell assistive technology the real size. Keyboard: each
 * row's first cell is a link (Tab reaches it); Arrow keys, Page Up/Down, Home and End move
 * from row to row, scrolling rows into the DOM as they go.
 */
import type { ComponentChild } from 'preact';
import { useLayoutEffect, useRef, useState } from 'preact/hooks';

export interface Column<T> {
  readonly id: string;
  readonly label: string;
  /** A CSS grid track: `12rem`, `1fr`. */
  readonly width: string;
  /** Sortable when set: the header is a button. */
  readonly sortable?: boolean;
  readonly render: (row: T) => ComponentChild;
}

export interface VirtualTableProps<T> {
  readonly label: string;
  readonly rows: readonly T[];
  readonly columns: readonly Column<T>[];
  readonly rowKey: (row: T) => string;
  readonly sort?: { readonly column: string; readonly descending: boolean };
  readonly onSort?: (column: string) => void;
  readonly rowHeight?: number;
  /** The scrolling body's height in px. */
  readonly height?: number;
  readonly empty?: ComponentChild;
}

const OVERSCAN = 6;

export function VirtualTable<T>(props: VirtualTableProps<T>) {
  const rowHeight = props.rowHeight ?? 36;
  const height = props.height ?? 560;
  const body = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const focusRow = useRef<number | null>(null);
  // Bumped by the keyboard so the row to focus is rendered (and focused) even when the scroll did not move.
  const [, setFocusTick] = useState(0);
  const n = props.rows.length;
  const grid = { gridTemplateColumns: props.columns.map((c) => c.width).join(' ') };

  // The list shrank under the scroll position (a filter): go back to where rows are.
  useLayoutEffect(() => {
    const el = body.current;
    if (el !== null && el.scrollTop > Math.max(0, n * rowHeight - height)) {
      el.scrollTop = Math.max(0, n * rowHeight - height);
      setScrollTop(el.scrollTop);
    }
  }, [n, rowHeight, height]);

  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - OVERSCAN);
  const last = Math.min(n, Math.ceil((scrollTop + height) / rowHeight) + OVERSCAN);
  const visible = props.rows.slice(first, last);

  // A layout effect: focus moves in the same task as the key press, before the next one is read.
  useLayoutEffect(() => {
    const i = focusRow.current;
    if (i === null) return;
    focusRow.current = null;
    body.current?.querySelector<HTMLElement>(`[data-row="${i}"] a, [data-row="${i}"] button`)?.focus({ preventScroll: true });
  });

  function onKeyDown(e: KeyboardEvent): void {
    const row = (e.target as HTMLElement).closest<HTMLElement>('[data-row]');
    const el = body.current;
    if (row === null || el === null) return;
    const i = Number(row.dataset['row']);
    const page = Math.max(1, Math.floor(height / rowHeight) - 1);
    const to = { ArrowDown: i + 1, ArrowUp: i - 1, PageDown: i + page, PageUp: i - page, Home: 0, End: n - 1 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    const target = Math.max(0, Math.min(n - 1, to));
    const top = target * rowHeight;
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + rowHeight > el.scrollTop + height) el.scrollTop = top + rowHeight - height;
    focusRow.current = target;
    setScrollTop(el.scrollTop);
    setFocusTick((t) => t + 1);
  }

  return (
    <div role="table" aria-label={props.label} aria-rowcount={n + 1} class="vtable">
      <div role="rowgroup" class="vhead">
        <div role="row" aria-rowindex={1} class="vrow" style={grid}>
          {props.columns.map((c) => {
            const sorted = props.sort?.column === c.id;
            const ariaSort = sorted ? (props.sort?.descending === true ? 'descending' : 'ascending') : c.sortable === true ? 'none' : undefined;
            return (
              <div role="columnheader" aria-sort={ariaSort} class="vcell" key={c.id}>
                {c.sortable === true && props.onSort !== undefined ? (
                  <button type="button" class="sort" onClick={() => props.onSort?.(c.id)}>
                    {c.label}
                    <span aria-hidden="true">{sorted ? (props.sort?.descending === true ? ' ▼' : ' ▲') : ''}</span>
                  </button>
                ) : (
                  c.label
                )}
              </div>
            );
          })}
        </div>
      </div>
      <div role="rowgroup" class="vbody" ref={body} style={{ height: `${height}px` }} onScroll={(e) => setScrollTop((e.currentTarget as HTMLDivElement).scrollTop)} onKeyDown={onKeyDown}>
        {n === 0 ? (
          <div role="row" aria-rowindex={2} class="vempty">
            <div role="cell">{props.empty ?? 'Nothing to show.'}</div>
          </div>
        ) : (
          <div class="vspacer" style={{ height: `${n * rowHeight}px` }}>
            {visible.map((row, k) => {
              const i = first + k;
              return (
                <div role="row" aria-rowindex={i + 2} data-row={i} class="vrow" key={props.rowKey(row)} style={{ ...grid, top: `${i * rowHeight}px`, height: `${rowHeight}px` }}>
                  {props.columns.map((c) => (
                    <div role="cell" class="vcell" key={c.id}>
                      {c.render(row)}
                    </div>
                  ))}
                </div>
              );
            })}
          </div>
        )}
      </div>
    </div>
  );
}
