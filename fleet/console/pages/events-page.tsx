import { useEffect, useRef, useState } from 'preact/hooks';
import type { FleetEvent } from '../api/types.js';
import { EventTable } from '../components/event-list.js';
import { ErrorNotice, Loading } from '../components/notice.js';
import { fleetApi, liveBus } from '../state/session.js';

const PAGE = 200;
/** Rows the page holds at most (live ones push the oldest out). */
const MAX_ROWS = 5000;

interface Filter {
  readonly kind: '' | 'alert' | 'event' | 'summary';
  readonly gateway: string;
  readonly stream: string;
}

interface Loaded {
  readonly items: readonly FleetEvent[];
  /** Per kind read: the cursor of its next page (null: no more). */
  readonly cursors: Readonly<Record<string, string | null>>;
}

const newestFirst = (a: FleetEvent, b: FleetEvent): number => b.ts - a.ts || (a.gatewayId < b.gatewayId ? 1 : -1);

/**
 * "Alerts and events" reads two kinds, each newest first a page at a time. Merged, the list is
 * complete only down to the newer of the two oldest rows of a kind that has more pages; rows
 * below that wait for the next page so no gap shows.
 */
function complete(items: FleetEvent[], perKind: Record<string, { oldest: number | null; more: boolean }>): FleetEvent[] {
  let floor = -Infinity;
  for (const k of Object.values(perKind)) if (k.more && k.oldest !== null) floor = Math.max(floor, k.oldest);
  return items.filter((e) => e.ts >= floor);
}

export function EventsPage() {
  const [draft, setDraft] = useState<Filter>({ kind: '', gateway: '', stream: '' });
  const [filter, setFilter] = useState<Filter>(draft);
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const kinds = filter.kind === '' ? ['alert', 'event'] : [filter.kind];
  // Typing in Gateway or Stream applies the filter once the typing pauses (Enter or Apply at once).
  const typing = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(typing.current), []);
  const type = (next: Filter): void => {
    setDraft(next);
    clearTimeout(typing.current);
    typing.current = setTimeout(() => setFilter(next), 400);
  };

  async function load(previous: Loaded | null): Promise<void> {
    setBusy(true);
    setError(null);
    try {
      const perKind: Record<string, { oldest: number | null; more: boolean }> = {};
      const cursors: Record<string, string | null> = {};
      const all: FleetEvent[] = previous === null ? [] : [...previous.items];
      const pages = await Promise.all(
        kinds.map(async (kind) => {
          const before = previous?.cursors[kind];
          if (before === null) return { kind, items: [] as FleetEvent[], next: null };
          const p = await fleetApi().events({ kind, gateway: filter.gateway.trim() || undefined, stream: filter.stream.trim() || undefined, before, limit: PAGE });
          return { kind, items: [...p.items], next: p.next };
        }),
      );
      const seen = new Set(all.map((e) => `${e.gatewayId}/${e.recordId}`));
      for (const p of pages) {
        for (const e of p.items) if (!seen.has(`${e.gatewayId}/${e.recordId}`)) all.push(e);
        cursors[p.kind] = p.next;
        perKind[p.kind] = { oldest: p.items.length === 0 ? null : (p.items[p.items.length - 1] as FleetEvent).ts, more: p.next !== null };
      }
      all.sort(newestFirst);
      setLoaded({ items: kinds.length > 1 ? complete(all, perKind) : all, cursors });
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  }

  useEffect(() => {
    setLoaded(null);
    void load(null);
    const offEvent = liveBus.on('event', (e) => {
      if (!kinds.includes(e.kind)) return;
      if (filter.gateway.trim() !== '' && e.gatewayId !== filter.gateway.trim()) return;
      if (filter.stream.trim() !== '' && e.stream !== filter.stream.trim()) return;
      setLoaded((l) => (l === null || l.items.some((x) => x.gatewayId === e.gatewayId && x.recordId === e.recordId) ? l : { ...l, items: [e, ...l.items].sort(newestFirst).slice(0, MAX_ROWS) }));
    });
    const offRefetch = liveBus.on('refetch', () => void load(null));
    return () => {
      offEvent();
      offRefetch();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [filter]);

  const more = loaded !== null && Object.values(loaded.cursors).some((c) => c !== null);
  return (
    <>
      <h1>Alerts and events</h1>
      <form
        class="filters"
        role="search"
        aria-label="Filter alerts and events"
        onSubmit={(e) => {
          e.preventDefault();
          clearTimeout(typing.current);
          setFilter(draft);
        }}
      >
        <div class="field">
          <label for="e-kind">Kind</label>
          <select
            id="e-kind"
            value={draft.kind}
            onChange={(e) => {
              const next = { ...draft, kind: (e.currentTarget as HTMLSelectElement).value as Filter['kind'] };
              setDraft(next);
              setFilter(next);
            }}
          >
            <option value="">alerts and events</option>
            <option value="alert">alert</option>
            <option value="event">event</option>
            <option value="summary">summary</option>
          </select>
        </div>
        <div class="field">
          <label for="e-gateway">Gateway</label>
          <input id="e-gateway" value={draft.gateway} onInput={(e) => type({ ...draft, gateway: (e.currentTarget as HTMLInputElement).value })} />
        </div>
        <div class="field wide">
          <label for="e-stream">Stream</label>
          <input id="e-stream" value={draft.stream} onInput={(e) => type({ ...draft, stream: (e.currentTarget as HTMLInputElement).value })} />
        </div>
        <div class="field">
          <button type="submit">Apply</button>
        </div>
      </form>
      <ErrorNotice error={error} />
      {loaded === null ? (
        error === null ? <Loading what="events" /> : null
      ) : (
        <>
          <p class="muted">{loaded.items.length} shown, newest first; new ones appear as they come.</p>
          <EventTable events={loaded.items} label="Alerts and events" />
          {more ? (
            <button type="button" disabled={busy} onClick={() => void load(loaded)}>
              Load older
            </button>
          ) : null}
        </>
      )}
    </>
  );
}
