/**
 * A confirmation in a real <dialog> opened modally: the browser makes the rest of the page
 * inert and Escape cancels (the dialog's `cancel` event). Tab and Shift+Tab cycle inside it
 * (a modal dialog alone lets focus leave to the browser's own controls). Focus starts on
 * Cancel, the safe choice, and goes back where it was when the dialog closes.
 */
import type { ComponentChildren } from 'preact';
import { useLayoutEffect, useRef, useState } from 'preact/hooks';

export interface ConfirmDialogProps {
  readonly title: string;
  readonly confirmLabel: string;
  readonly onConfirm: () => void;
  readonly onCancel: () => void;
  readonly danger?: boolean;
  readonly children?: ComponentChildren;
}

export function ConfirmDialog(props: ConfirmDialogProps) {
  const dialog = useRef<HTMLDialogElement>(null);
  const cancel = useRef<HTMLButtonElement>(null);
  // What had focus when the dialog was asked for (read while rendering, before anything moves it).
  const [before] = useState(() => document.activeElement as HTMLElement | null);
  // A layout effect: the dialog is modal and focused before the next key press is handled.
  useLayoutEffect(() => {
    const d = dialog.current;
    if (d === null) return;
    if (!d.open) d.showModal();
    cancel.current?.focus();
    return () => {
      if (d.open) d.close();
      before?.focus();
    };
  }, []);
  return (
    <dialog
      ref={dialog}
      aria-labelledby="confirm-title"
      aria-describedby="confirm-body"
      onKeyDown={(e) => {
        if (e.key !== 'Tab') return;
        const items = [...(dialog.current?.querySelectorAll<HTMLElement>('button, a[href], input, select, textarea, [tabindex]:not([tabindex="-1"])') ?? [])].filter((x) => !x.hasAttribute('disabled'));
        const first = items[0];
        const last = items[items.length - 1];
        if (first === undefined || last === undefined) return;
        if (e.shiftKey && document.activeElement === first) {
          e.preventDefault();
          last.focus();
        } else if (!e.shiftKey && document.activeElement === last) {
          e.preventDefault();
          first.focus();
        }
      }}
      onCancel={(e) => {
        e.preventDefault();
        props.onCancel();
      }}
    >
      <h2 id="confirm-title">{props.title}</h2>
      <div id="confirm-body">{props.children}</div>
      <div class="actions">
        <button type="button" ref={cancel} onClick={props.onCancel}>
          Cancel
        </button>
        <button type="button" class={props.danger === true ? 'danger' : 'primary'} onClick={props.onConfirm}>
          {props.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}
