import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { absoluteTime, daysUntil, relativeTime } from '../format';

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <p className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}
    </p>
  );
}

export function Alert({ kind = 'error', children, onRetry }: { kind?: 'error' | 'warning' | 'info' | 'success'; children: ReactNode; onRetry?: () => void }) {
  return (
    <div className={`alert alert-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      <div>{children}</div>
      {onRetry && (
        <button type="button" className="button button-small" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function LoadError({ error, onRetry }: { error: Error; onRetry: () => void }) {
  return (
    <Alert onRetry={onRetry}>
      <strong>Could not load this page.</strong> {error.message}
    </Alert>
  );
}

export function Field({ label, error, hint, children, id }: { label: string; error?: string | undefined; hint?: ReactNode; children: (props: { id: string; 'aria-describedby'?: string; 'aria-invalid'?: boolean }) => ReactNode; id?: string }) {
  const generated = useId();
  const fieldId = id ?? generated;
  const hintId = `${fieldId}-hint`;
  const errorId = `${fieldId}-error`;
  const describedBy = [hint ? hintId : '', error ? errorId : ''].filter(Boolean).join(' ');
  return (
    <div className={`field${error ? ' field-invalid' : ''}`}>
      <label htmlFor={fieldId}>{label}</label>
      {children({ id: fieldId, ...(describedBy ? { 'aria-describedby': describedBy } : {}), ...(error ? { 'aria-invalid': true } : {}) })}
      {hint && (
        <p className="hint" id={hintId}>
          {hint}
        </p>
      )}
      {error && (
        <p className="field-error" id={errorId}>
          {error}
        </p>
      )}
    </div>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge badge-${status}`}>{status}</span>;
}

export function ScopeChips({ scopes }: { scopes: readonly string[] }) {
  return (
    <ul className="chips" aria-label="Scopes">
      {scopes.map((s) => (
        <li key={s} className={`chip${s.startsWith('admin:') ? ' chip-admin' : ''}`}>
          {s}
        </li>
      ))}
    </ul>
  );
}

export function Time({ iso, fallback = '—' }: { iso: string | null; fallback?: string }) {
  if (!iso) return <span className="muted">{fallback}</span>;
  return (
    <time dateTime={iso} title={absoluteTime(iso)}>
      {relativeTime(iso)}
    </time>
  );
}

/** Expiry: relative and absolute; warning colour under 7 days; "never" marked. */
export function Expiry({ iso, status }: { iso: string | null; status?: string }) {
  if (!iso) return <span className="badge badge-never">never</span>;
  const soon = status !== 'revoked' && daysUntil(iso) < 7;
  return (
    <span className={soon ? 'expiry-soon' : undefined}>
      <time dateTime={iso}>{relativeTime(iso)}</time>
      <span className="muted small"> · {absoluteTime(iso)}</span>
    </span>
  );
}

export function CopyButton({ value, label = 'Copy' }: { value: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
    } catch {
      // Clipboard access can be refused (insecure origin); selecting the text still lets people copy.
      const range = document.createRange();
      const node = document.querySelector(`[data-copy="${CSS.escape(value)}"]`);
      if (node) {
        range.selectNodeContents(node);
        window.getSelection()?.removeAllRanges();
        window.getSelection()?.addRange(range);
      }
    }
    setCopied(true);
    window.setTimeout(() => setCopied(false), 2000);
  };
  return (
    <button type="button" className="button button-small" onClick={copy} aria-live="polite">
      {copied ? 'Copied' : label}
    </button>
  );
}

/**
 * A modal dialog on the native <dialog> element: the browser traps focus while it is open and
 * Escape closes it; focus returns to the element that opened it.
 */
/**
 * A modal dialog. Closing it returns focus to the control that opened it, or, when that control
 * is gone (its row was deleted), to what `onFocusLost` picks, else to the page's heading: never
 * to nowhere, where keyboard and screen-reader users would lose their place.
 */
export function Dialog({ open, title, onClose, onFocusLost, children }: { open: boolean; title: string; onClose: () => void; onFocusLost?: () => void; children: ReactNode }) {
  const ref = useRef<HTMLDialogElement>(null);
  const opener = useRef<Element | null>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) {
      opener.current = document.activeElement;
      dialog.showModal();
    } else if (!open && dialog.open) {
      dialog.close();
    }
  }, [open]);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    const onClosed = () => {
      if (opener.current instanceof HTMLElement && opener.current.isConnected) opener.current.focus();
      else if (onFocusLost) onFocusLost();
      else document.querySelector<HTMLElement>('main h1')?.focus();
      onClose();
    };
    dialog.addEventListener('close', onClosed);
    return () => dialog.removeEventListener('close', onClosed);
  }, [onClose, onFocusLost]);
  return (
    <dialog ref={ref} className="dialog" aria-labelledby={titleId}>
      {open && (
        <>
          <h2 id={titleId}>{title}</h2>
          {children}
        </>
      )}
    </dialog>
  );
}

export function ConfirmDialog({ open, title, children, confirmLabel, danger, busy, onConfirm, onCancel, onFocusLost }: { open: boolean; title: string; children: ReactNode; confirmLabel: string; danger?: boolean; busy?: boolean; onConfirm: () => void; onCancel: () => void; onFocusLost?: () => void }) {
  return (
    <Dialog open={open} title={title} onClose={onCancel} {...(onFocusLost ? { onFocusLost } : {})}>
      <div className="dialog-body">{children}</div>
      <div className="actions">
        <button type="button" className="button" onClick={onCancel} autoFocus>
          Cancel
        </button>
        <button type="button" className={`button ${danger ? 'button-danger' : 'button-primary'}`} onClick={onConfirm} disabled={busy}>
          {busy ? 'Working…' : confirmLabel}
        </button>
      </div>
    </Dialog>
  );
}

export function EmptyState({ title, children }: { title: string; children: ReactNode }) {
  return (
    <section className="empty" aria-label={title}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <header className="page-header">
      <h1 tabIndex={-1}>{title}</h1>
      {children && <div className="page-actions">{children}</div>}
    </header>
  );
}

/** A secret shown once, in monospace with a copy button. */
export function SecretBox({ value, label }: { value: string; label: string }) {
  return (
    <div className="secret">
      <code data-copy={value} aria-label={label} tabIndex={0}>
        {value}
      </code>
      <CopyButton value={value} label={`Copy ${label.toLowerCase()}`} />
    </div>
  );
}
