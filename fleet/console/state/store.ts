/**
 * A tiny store: one state object, replaced on each change, and listeners told of it.
 * `useStore` re-renders a component when the part it selected changes.
 */
import { useEffect, useState } from 'preact/hooks';

export class Store<T extends object> {
  private readonly listeners = new Set<() => void>();

  constructor(private state: T) {}

  get(): T {
    return this.state;
  }

  set(patch: Partial<T>): void {
    this.state = { ...this.state, ...patch };
    for (const l of [...this.listeners]) l();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export function useStore<T extends object, S>(store: Store<T>, select: (s: T) => S): S {
  const [value, setValue] = useState(() => select(store.get()));
  useEffect(() => {
    const update = (): void => setValue(() => select(store.get()));
    update();
    return store.subscribe(update);
    // `select` is expected to be stable in meaning for a component; re-subscribing on each render is not needed
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [store]);
  return value;
}
