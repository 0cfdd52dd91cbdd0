/**
 * Data a page reads from the API, refetched when the live stream says it changed. Refetches
 * coalesce: while one is in flight, any number of changes make one more fetch after it, so a
 * busy fleet costs at most one request in flight per view, never a queue of them.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { FleetApi } from '../api/endpoints.js';
import type { LiveTopic, LiveTopics } from './live-bus.js';
import { fleetApi, liveBus } from './session.js';

export interface Resource<T> {
  readonly data: T | undefined;
  readonly error: Error | undefined;
  readonly loading: boolean;
  reload(): void;
}

export type RefetchOn = { readonly [K in LiveTopic]?: (data: LiveTopics[K]) => boolean };

export function useResource<T>(load: (api: FleetApi, signal: AbortSignal) => Promise<T>, deps: readonly unknown[], refetchOn: RefetchOn = {}): Resource<T> {
  const [state, setState] = useState<{ data: T | undefined; error: Error | undefined; loading: boolean }>({ data: undefined, error: undefined, loading: true });
  const control = useRef({ inFlight: false, dirty: false, run: () => {} });
  const refetchRef = useRef(refetchOn);
  refetchRef.current = refetchOn;

  useEffect(() => {
    const abort = new AbortController();
    const c = control.current;
    c.inFlight = false;
    c.dirty = false;
    const run = (): void => {
      if (abort.signal.aborted) return;
      if (c.inFlight) {
        c.dirty = true;
        return;
      }
      c.inFlight = true;
      load(fleetApi(), abort.signal).then(
        (data) => {
          if (!abort.signal.aborted) setState({ data, error: undefined, loading: false });
        },
        (error: unknown) => {
          if (!abort.signal.aborted) setState((s) => ({ data: s.data, error: error as Error, loading: false }));
        },
      ).finally(() => {
        c.inFlight = false;
        if (c.dirty) {
          c.dirty = false;
          run();
        }
      });
    };
    c.run = run;
    setState({ data: undefined, error: undefined, loading: true });
    run();
    const offs = (['event', 'rollout', 'learning', 'refetch'] as const).map((topic) =>
      liveBus.on(topic, ((data: unknown) => {
        const want = refetchRef.current[topic] as ((d: unknown) => boolean) | undefined;
        if (topic === 'refetch' || (want !== undefined && want(data))) run();
      }) as never),
    );
    return () => {
      abort.abort();
      for (const off of offs) off();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  return { ...state, reload: () => control.current.run() };
}
