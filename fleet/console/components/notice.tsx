import type { ComponentChildren } from 'preact';
import { ApiError } from '../api/client.js';

/** An error as the fleet worded it (the problem's detail), with its code for the log. */
export function ErrorNotice({ error, what }: { error: Error | undefined | null; what?: string }) {
  if (error === undefined || error === null) return null;
  const code = error instanceof ApiError ? error.code : (error as { code?: string }).code;
  return (
    <p role="alert" class="notice error">
      {what === undefined ? '' : `${what}: `}
      {error.message}
      {code === undefined ? null : <span class="code"> ({code})</span>}
    </p>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="muted">{children}</p>;
}
