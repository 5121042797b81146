'use client';
// A modal question with two answers, on the native <dialog> (focus trap, Escape to cancel) rather than confirm().
import { useEffect, useRef } from 'react';

interface Props {
  open: boolean;
  title: string;
  children?: React.ReactNode;
  confirmLabel: string;
  onConfirm: () => void;
  onCancel: () => void;
}

export function ConfirmDialog({ open, title, children, confirmLabel, onConfirm, onCancel }: Props) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog
      ref={ref}
      aria-labelledby="confirm-title"
      onCancel={(event) => {
        event.preventDefault(); // Escape: let the parent close it, so its state says closed too
        onCancel();
      }}
      className="m-auto max-w-md rounded-xl border border-white/10 bg-slate-900 p-5 text-slate-100 shadow-2xl backdrop:bg-black/60"
    >
      <h2 id="confirm-title" className="text-lg font-semibold">
        {title}
      </h2>
      {children && <div className="mt-2 text-sm text-slate-300">{children}</div>}
      <div className="mt-5 flex justify-end gap-2">
        <button type="button" onClick={onCancel} className="rounded-md border border-white/10 px-3 py-1.5 text-sm text-slate-300 hover:bg-slate-800">
          Cancel
        </button>
        <button type="button" onClick={onConfirm} autoFocus className="rounded-md bg-emerald-500 px-3 py-1.5 text-sm font-semibold text-slate-950 hover:bg-emerald-400">
          {confirmLabel}
        </button>
      </div>
    </dialog>
  );
}
