import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { TokenCells } from '../../components/TokenCells';
import { Link, useSearchParams } from 'react-router';
import { api, type PatDto, type UserDto } from '../../api/client';
import { Alert, ConfirmDialog, LoadError, Loading, PageHeader } from '../../components/ui';
import { useDocumentTitle, useLoad } from '../../hooks';
import { asError, HeadRow, LoadMore, plural, RowButton, usePaged, useUserDirectory, TableWrap, useActionStatus } from './shared';

const STATUSES = [
  ['all', 'All'],
  ['active', 'Active'],
  ['expired', 'Expired'],
  ['revoked', 'Revoked'],
] as const;
type Status = (typeof STATUSES)[number][0];

/** What "revoke all of a user's tokens" will act on: the user, and how many usable tokens they hold. */
interface BulkTarget {
  user: UserDto;
  activeCount: number;
  more: boolean;
}

export function AdminTokensPage() {
  useDocumentTitle('All tokens');
  const [params, setParams] = useSearchParams();
  const user = params.get('user') ?? '';
  const statusParam = params.get('status') ?? 'all';
  const status: Status = STATUSES.some(([s]) => s === statusParam) ? (statusParam as Status) : 'all';
  const scope = params.get('scope') ?? '';
  const q = params.get('q') ?? '';

  const directory = useUserDirectory();
  const scopes = useLoad(() => api.admin.scopes(), []);
  const list = usePaged((cursor) => api.admin.tokens({ user, status, scope, q, cursor, limit: 50 }), [user, status, scope, q]);

  const [userInput, setUserInput] = useState(user);
  const [nameInput, setNameInput] = useState(q);
  useEffect(() => setUserInput(user), [user]);
  useEffect(() => setNameInput(q), [q]);

  const [revoking, setRevoking] = useState<PatDto | null>(null);
  const [bulk, setBulk] = useState<BulkTarget | null>(null);
  const [preparing, setPreparing] = useState(false);
  const { busy, actionError, notice, setActionError, setNotice, run } = useActionStatus();

  const setFilter = (changes: Record<string, string>) =>
    setParams((p) => {
      for (const [key, value] of Object.entries(changes)) {
        if (value && !(key === 'status' && value === 'all')) p.set(key, value);
        else p.delete(key);
      }
      return p;
    });

  const applyText = (event: FormEvent) => {
    event.preventDefault();
    setFilter({ user: userInput.trim(), q: nameInput.trim() });
  };

  const ownerName = (userId: string) => directory.byId.get(userId)?.username;

  const revokeOne = async () => {
    if (!revoking) return;
    const token = revoking;
    await run(
      async () => {
        await api.admin.revokeToken(token.id);
        const now = new Date().toISOString();
        list.update((items) => items.map((t) => (t.id === token.id ? { ...t, status: 'revoked', revokedAt: t.revokedAt ?? now } : t)));
        return `Token “${token.name}” was revoked.`;
      },
      (err) => `Token “${token.name}” was not revoked: ${err.message}`,
      () => setRevoking(null),
    );
  };

  /** Finds the user the filter names (username or id), and counts their usable tokens for the confirmation. */
  const prepareBulk = async () => {
    setPreparing(true);
    setActionError(null);
    setNotice(null);
    try {
      let target = directory.users.find((u) => u.id === user || u.username === user || u.username.toLowerCase() === user.toLowerCase());
      if (!target) {
        const found = await api.admin.users({ q: user, limit: 200 });
        target = found.items.find((u) => u.id === user || u.username.toLowerCase() === user.toLowerCase());
      }
      if (!target) {
        setActionError(`No user is called “${user}”.`);
        return;
      }
      const active = await api.admin.tokens({ userId: target.id, status: 'active', limit: 200 });
      setBulk({ user: target, activeCount: active.items.length, more: active.nextCursor !== null });
    } catch (e) {
      setActionError(asError(e).message);
    } finally {
      setPreparing(false);
    }
  };

  const revokeAll = async () => {
    if (!bulk) return;
    const target = bulk.user;
    await run(
      async () => {
        const { revoked } = await api.admin.revokeMatching({ userId: target.id, reason: 'revoked by an admin from the console' });
        list.reload();
        return `Revoked ${plural(revoked, 'token')} of ${target.username}.`;
      },
      (err) => `The tokens of ${target.username} were not revoked: ${err.message}`,
      () => setBulk(null),
    );
  };

  const closeRevoke = useCallback(() => setRevoking(null), []);
  const closeBulk = useCallback(() => setBulk(null), []);
  const filtered = Boolean(user || scope || q || status !== 'all');

  return (
    <>
      <PageHeader title="All tokens" />
      <p className="lede">Every personal access token, of every user. Revoking here works at once, like the owner revoking it.</p>

      <form className="filters" onSubmit={applyText} aria-label="Filter tokens">
        <div className="field">
          <label htmlFor="filter-user">User</label>
          <input id="filter-user" type="search" list="filter-user-options" placeholder="Username or user id" value={userInput} onChange={(e) => setUserInput(e.target.value)} />
          <datalist id="filter-user-options">
            {directory.users.map((u) => (
              <option key={u.id} value={u.username} />
            ))}
          </datalist>
        </div>
        <div className="field">
          <label htmlFor="filter-name">Token name</label>
          <input id="filter-name" type="search" placeholder="Part of the name" value={nameInput} onChange={(e) => setNameInput(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="filter-status">Status</label>
          <select id="filter-status" value={status} onChange={(e) => setFilter({ status: e.target.value })}>
            {STATUSES.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="filter-scope">Scope</label>
          <select id="filter-scope" value={scope} onChange={(e) => setFilter({ scope: e.target.value })} aria-describedby={scopes.error ? 'filter-scope-error' : undefined}>
            <option value="">Any scope</option>
            {scope && !scopes.data?.items.some((s) => s.name === scope) && <option value={scope}>{scope}</option>}
            {scopes.data?.items.map((s) => (
              <option key={s.name} value={s.name}>
                {s.name}
              </option>
            ))}
          </select>
          {scopes.error && (
            <p className="field-error" id="filter-scope-error">
              Scopes could not be loaded.{' '}
              <button type="button" className="link-button" onClick={scopes.reload}>
                Try again
              </button>
            </p>
          )}
        </div>
        <div className="filters-actions">
          <button type="submit" className="button">
            Apply
          </button>
          {filtered && (
            <button type="button" className="button" onClick={() => setFilter({ user: '', q: '', scope: '', status: '' })}>
              Clear filters
            </button>
          )}
        </div>
      </form>

      {user && (
        <div className="bulk-bar">
          <p>
            Showing the tokens of <strong>{user}</strong>.
          </p>
          <button type="button" className="button button-danger" onClick={() => void prepareBulk()} disabled={preparing}>
            {preparing ? 'Counting tokens…' : `Revoke all tokens of ${user}`}
          </button>
        </div>
      )}

      {actionError && <Alert>{actionError}</Alert>}
      {notice && <Alert kind="success">{notice}</Alert>}
      {list.error && <LoadError error={list.error} onRetry={list.reload} />}
      {list.loading && !list.data && <Loading label="Loading tokens…" />}
      {list.data && list.items.length === 0 && <p className="muted">{filtered ? 'No tokens match these filters.' : 'Nobody has created a token yet.'}</p>}
      {list.items.length > 0 && (
        <TableWrap label="All tokens">
          <table className="admin-table">
            <caption className="visually-hidden">All tokens{filtered ? ' matching the filters' : ''}</caption>
            <HeadRow columns={['Name', 'Owner', 'Scopes', 'Expires', 'Last used', 'Created', 'Status']} actions />
            <tbody>
              {list.items.map((t) => {
                const owner = ownerName(t.userId);
                return (
                  <tr key={t.id}>
                    <td>
                      <Link className="strong" to={`/admin/tokens/${encodeURIComponent(t.id)}`}>
                        {t.name}
                      </Link>
                      <div className="muted small mono">{t.displayHint}</div>
                    </td>
                    <td>
                      <button type="button" className="link-button" onClick={() => setFilter({ user: owner ?? t.userId })}>
                        {owner ?? <span className="mono small">{t.userId}</span>}
                        <span className="visually-hidden"> (show only this user’s tokens)</span>
                      </button>
                    </td>
                    <TokenCells pat={t} />
                    <td>
                      {t.status !== 'revoked' && (
                        <RowButton text="Revoke" row={`token ${t.name}${owner ? ` of ${owner}` : ''}`} danger onClick={() => setRevoking(t)} />
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </TableWrap>
      )}
      <LoadMore list={list} what="tokens" />

      <ConfirmDialog open={revoking !== null} title="Revoke this token?" confirmLabel="Revoke token" danger busy={busy} onConfirm={() => void revokeOne()} onCancel={closeRevoke}>
        {revoking && (
          <p>
            Anything using “{revoking.name}”{ownerName(revoking.userId) ? ` (owned by ${ownerName(revoking.userId)})` : ''} will be refused at once. This cannot be undone.
          </p>
        )}
      </ConfirmDialog>
      <ConfirmDialog
        open={bulk !== null}
        title={bulk ? `Revoke every token of ${bulk.user.username}?` : ''}
        confirmLabel={bulk ? `Revoke all (${bulk.activeCount}${bulk.more ? '+' : ''})` : 'Revoke all'}
        danger
        busy={busy}
        onConfirm={() => void revokeAll()}
        onCancel={closeBulk}
      >
        {bulk &&
          (bulk.activeCount === 0 ? (
            <p>{bulk.user.username} has no active tokens right now. Revoking still catches any token created a moment ago.</p>
          ) : (
            <p>
              {bulk.user.username} has {bulk.more ? `more than ${plural(bulk.activeCount, 'active token')}` : plural(bulk.activeCount, 'active token')}. Every script and job using them
              will be refused at once. This cannot be undone.
            </p>
          ))}
      </ConfirmDialog>
    </>
  );
}
