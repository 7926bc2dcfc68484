import { useCallback, useMemo, useRef, useState, type ReactNode } from 'react';
import { api, ApiError, type Page, type UserDto } from '../../api/client';
import { absoluteTime } from '../../format';
import { useLoad, type Loaded } from '../../hooks';

export function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/** The message of an API error that names `field`, to show beside that field (without the field name). */
export function fieldMessage(error: Error | null, field: string): string | undefined {
  if (!(error instanceof ApiError) || error.field !== field) return undefined;
  return readable(error.message.replace(/^[A-Za-z][\w.[\]]*: /, ''));
}

/** Validator wording, made into sentences people read. */
function readable(message: string): string {
  const fewer = /^must NOT have fewer than (\d+) characters$/.exec(message);
  if (fewer) return `Must be at least ${fewer[1]} characters.`;
  const more = /^must NOT have more than (\d+) characters$/.exec(message);
  if (more) return `Must be at most ${more[1]} characters.`;
  if (/^must match pattern/.test(message)) return 'Contains characters that are not allowed.';
  const text = message.charAt(0).toUpperCase() + message.slice(1);
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

/** An error not tied to one of `fields`: shown as an alert above the form. */
export function formLevelError(error: Error | null, fields: readonly string[]): Error | null {
  if (!error) return null;
  if (error instanceof ApiError && error.field && fields.includes(error.field)) return null;
  return error;
}

export interface PagedList<T> extends Loaded<Page<T>> {
  readonly items: T[];
  readonly hasMore: boolean;
  readonly moreBusy: boolean;
  readonly moreError: string | null;
  loadMore(): void;
  /** Changes loaded rows in place (after an action), keeping the pages already loaded. */
  update(fn: (items: T[]) => T[]): void;
}

/**
 * A cursor-paginated list: the first page loads whenever `deps` change; "Load more" appends the
 * next. An answer that arrives after the filters changed is dropped.
 */
export function usePaged<T>(fetchPage: (cursor: string | undefined) => Promise<Page<T>>, deps: readonly unknown[]): PagedList<T> {
  const [items, setItems] = useState<T[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [moreBusy, setMoreBusy] = useState(false);
  const [moreError, setMoreError] = useState<string | null>(null);
  const generation = useRef(0);
  const fetchRef = useRef(fetchPage);
  fetchRef.current = fetchPage;
  const loaded = useLoad(async () => {
    const mine = ++generation.current;
    const page = await fetchRef.current(undefined);
    if (mine === generation.current) {
      setItems(page.items);
      setCursor(page.nextCursor);
      setMoreError(null);
    }
    return page;
  }, deps);
  const loadMore = useCallback(() => {
    if (!cursor) return;
    const mine = generation.current;
    setMoreBusy(true);
    setMoreError(null);
    fetchRef.current(cursor).then(
      (page) => {
        if (mine !== generation.current) return;
        setItems((current) => [...current, ...page.items]);
        setCursor(page.nextCursor);
        setMoreBusy(false);
      },
      (e: unknown) => {
        setMoreError(asError(e).message);
        setMoreBusy(false);
      },
    );
  }, [cursor]);
  return { ...loaded, items, hasMore: cursor !== null, moreBusy, moreError, loadMore, update: setItems };
}

export function LoadMore({ list, what }: { list: PagedList<unknown>; what: string }) {
  return (
    <div className="load-more">
      {list.moreError && (
        <p className="field-error" role="alert">
          Could not load more {what}: {list.moreError}
        </p>
      )}
      {list.hasMore && (
        <button type="button" className="button" onClick={list.loadMore} disabled={list.moreBusy}>
          {list.moreBusy ? 'Loading…' : `Load more ${what}`}
        </button>
      )}
    </div>
  );
}

/**
 * Users by id, for showing a username where the API answers a user id. Loads up to a few pages;
 * ids it does not know are shown as they are. A failure only means ids instead of names.
 */
export function useUserDirectory(): { byId: ReadonlyMap<string, UserDto>; users: readonly UserDto[] } {
  const loaded = useLoad(async () => {
    const all: UserDto[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 5; i++) {
      const page = await api.admin.users({ limit: 200, cursor });
      all.push(...page.items);
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    return all;
  }, []);
  return useMemo(() => {
    const users = loaded.data ?? [];
    return { byId: new Map(users.map((u) => [u.id, u])), users };
  }, [loaded.data]);
}

/** A user id, with the username in front when it is known. */
export function UserRef({ id, directory }: { id: string | null; directory: ReadonlyMap<string, UserDto> }) {
  if (!id) return <span className="muted">—</span>;
  const user = directory.get(id);
  return (
    <span className="user-ref">
      {user && <span>{user.username}</span>}
      <span className={`mono small${user ? ' muted' : ''}`}>{id}</span>
    </span>
  );
}

/** An absolute time on one line, with the ISO value for machines. */
export function AbsoluteTime({ iso, fallback = '—' }: { iso: string | null; fallback?: string }) {
  if (!iso) return <span className="muted">{fallback}</span>;
  return (
    <time dateTime={iso} className="nowrap">
      {absoluteTime(iso)}
    </time>
  );
}

/** Visible text plus, for assistive technology, the row it acts on: "Revoke" + " token deploy". */
export function RowLabel({ text, row }: { text: string; row: ReactNode }) {
  return (
    <>
      {text}
      <span className="visually-hidden"> {row}</span>
    </>
  );
}

/** A small button acting on one table row; `row` names the row for screen readers. */
export function RowButton({ text, row, danger = false, onClick }: { text: string; row: ReactNode; danger?: boolean; onClick: () => void }) {
  return (
    <button type="button" className={danger ? 'button button-small button-danger-outline' : 'button button-small'} onClick={onClick}>
      <RowLabel text={text} row={row} />
    </button>
  );
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** A table's header row: a head per column and, with `actions`, one over the row buttons named for screen readers only. */
export function HeadRow({ columns, actions = false }: { columns: readonly string[]; actions?: boolean }) {
  return (
    <thead>
      <tr>
        {columns.map((c) => (
          <th key={c} scope="col">
            {c}
          </th>
        ))}
        {actions && (
          <th scope="col">
            <span className="visually-hidden">Actions</span>
          </th>
        )}
      </tr>
    </thead>
  );
}

/** A table's scrolling box; focusable so keyboard users can scroll it sideways on narrow screens. */
export function TableWrap({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="table-wrap" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}

/** A long id shortened for display to its end (ids start with a timestamp); the whole id in the tooltip. */
export function ShortId({ id }: { id: string }) {
  if (id.length <= 14) return <span className="mono small">{id}</span>;
  return (
    <span className="mono small" title={id}>
      …{id.slice(-8)}
    </span>
  );
}

export interface ActionStatus {
  readonly busy: boolean;
  readonly actionError: string | null;
  readonly notice: string | null;
  setActionError(message: string | null): void;
  setNotice(message: string | null): void;
  /**
   * Runs one confirmed action: clears the previous outcome, shows the notice `work` returns or
   * the sentence `failure` makes of the error, and always runs `after` (closing the dialog).
   */
  run(work: () => Promise<string | undefined>, failure: (error: Error) => string, after?: () => void): Promise<void>;
}

export function useActionStatus(): ActionStatus {
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const run = useCallback(async (work: () => Promise<string | undefined>, failure: (error: Error) => string, after?: () => void) => {
    setBusy(true);
    setActionError(null);
    setNotice(null);
    try {
      const message = await work();
      if (message !== undefined) setNotice(message);
    } catch (e) {
      setActionError(failure(asError(e)));
    } finally {
      setBusy(false);
      after?.();
    }
  }, []);
  return { busy, actionError, notice, setActionError, setNotice, run };
}
