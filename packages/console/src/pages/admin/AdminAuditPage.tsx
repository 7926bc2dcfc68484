import { useEffect, useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router';
import { api, type AuditEventDto, type UserDto } from '../../api/client';
import { LoadError, Loading, PageHeader } from '../../components/ui';
import { useDocumentTitle } from '../../hooks';
import { AbsoluteTime, LoadMore, ShortId, TableWrap, usePaged, useUserDirectory } from './shared';

const ACTIONS = [
  'auth.*',
  'auth.login',
  'auth.login_failed',
  'auth.logout',
  'token.*',
  'token.created',
  'token.updated',
  'token.rotated',
  'token.revoked',
  'token.bulk_revoked',
  'token.exchanged',
  'token.jwt_revoked',
  'user.*',
  'user.created',
  'user.updated',
  'user.role_changed',
  'user.disabled',
  'user.enabled',
  'user.deleted',
  'client.*',
  'client.created',
  'client.updated',
  'client.secret_rotated',
  'client.deleted',
  'policy.updated',
  'scope.*',
  'scope.created',
  'scope.deleted',
  'signing_key.rotated',
  'setup.completed',
];

const FILTERS = ['action', 'actorUserId', 'targetId', 'since', 'until'] as const;
type Filter = (typeof FILTERS)[number];

/** ISO time → the value of a datetime-local input, in the browser's time zone. */
function toLocalInput(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A datetime-local value (local time) → ISO 8601 in UTC. */
function fromLocalInput(value: string): string {
  if (!value) return '';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

export function AdminAuditPage() {
  useDocumentTitle('Audit log');
  const [params, setParams] = useSearchParams();
  const current = Object.fromEntries(FILTERS.map((f) => [f, params.get(f) ?? ''])) as Record<Filter, string>;
  const key = FILTERS.map((f) => current[f]).join('\u0000');
  const list = usePaged((cursor) => api.admin.audit({ ...current, cursor, limit: 50 }), [key]);
  const directory = useUserDirectory();

  const [form, setForm] = useState(() => formFrom(current));
  useEffect(() => setForm(formFrom(current)), [key]); // eslint-disable-line react-hooks/exhaustive-deps

  const apply = (event: FormEvent) => {
    event.preventDefault();
    const next = new URLSearchParams();
    const values: Record<Filter, string> = {
      action: form.action.trim(),
      actorUserId: resolveUser(form.actorUserId.trim(), directory.users),
      targetId: form.targetId.trim(),
      since: fromLocalInput(form.since),
      until: fromLocalInput(form.until),
    };
    for (const f of FILTERS) if (values[f]) next.set(f, values[f]);
    setParams(next);
  };
  const filtered = FILTERS.some((f) => current[f]);

  return (
    <>
      <PageHeader title="Audit log" />
      <p className="lede">Everything that changed users, tokens, clients and settings, and every sign-in, newest first.</p>
      <form className="filters" onSubmit={apply} aria-label="Filter audit events">
        <div className="field">
          <label htmlFor="audit-action">Action</label>
          <input id="audit-action" list="audit-action-options" placeholder="token.* or user.created" value={form.action} onChange={(e) => setForm({ ...form, action: e.target.value })} aria-describedby="audit-action-hint" />
          <datalist id="audit-action-options">
            {ACTIONS.map((a) => (
              <option key={a} value={a} />
            ))}
          </datalist>
          <p className="hint" id="audit-action-hint">
            End with .* for a family.
          </p>
        </div>
        <div className="field">
          <label htmlFor="audit-actor">Actor</label>
          <input id="audit-actor" list="audit-actor-options" placeholder="User id or username" value={form.actorUserId} onChange={(e) => setForm({ ...form, actorUserId: e.target.value })} />
          <datalist id="audit-actor-options">
            {directory.users.map((u) => (
              <option key={u.id} value={u.username} />
            ))}
          </datalist>
        </div>
        <div className="field">
          <label htmlFor="audit-target">Target id</label>
          <input id="audit-target" placeholder="Token, user or client id" value={form.targetId} onChange={(e) => setForm({ ...form, targetId: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="audit-since">Since</label>
          <input id="audit-since" type="datetime-local" value={form.since} onChange={(e) => setForm({ ...form, since: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="audit-until">Until</label>
          <input id="audit-until" type="datetime-local" value={form.until} onChange={(e) => setForm({ ...form, until: e.target.value })} />
        </div>
        <div className="filters-actions">
          <button type="submit" className="button">
            Apply
          </button>
          {filtered && (
            <button type="button" className="button" onClick={() => setParams(new URLSearchParams())}>
              Clear filters
            </button>
          )}
        </div>
      </form>

      {list.error && <LoadError error={list.error} onRetry={list.reload} />}
      {list.loading && !list.data && <Loading label="Loading audit events…" />}
      {list.data && list.items.length === 0 && <p className="muted">{filtered ? 'No events match these filters.' : 'No events recorded yet.'}</p>}
      {list.items.length > 0 && (
        <TableWrap label="Audit events">
          <table className="admin-table audit-table">
            <caption className="visually-hidden">Audit events{filtered ? ' matching the filters' : ''}, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Action</th>
                <th scope="col">Actor user</th>
                <th scope="col">Actor token</th>
                <th scope="col">Target</th>
                <th scope="col">IP</th>
                <th scope="col">User agent</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((e) => (
                <AuditRow key={e.id} event={e} directory={directory.byId} />
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <LoadMore list={list} what="events" />
    </>
  );
}

function AuditRow({ event: e, directory }: { event: AuditEventDto; directory: ReadonlyMap<string, UserDto> }) {
  const actor = e.actorUserId ? directory.get(e.actorUserId) : undefined;
  const details = Object.keys(e.details).length > 0 ? JSON.stringify(e.details) : null;
  return (
    <tr>
      <td>
        <AbsoluteTime iso={e.createdAt} />
      </td>
      <td>
        <Link className="mono nowrap" to={`/admin/audit?action=${encodeURIComponent(e.action)}`}>
          {e.action}
          <span className="visually-hidden"> (show only these events)</span>
        </Link>
      </td>
      <td>
        {e.actorUserId ? (
          <Link to={`/admin/audit?actorUserId=${encodeURIComponent(e.actorUserId)}`} className="user-ref">
            {actor && <span>{actor.username}</span>}
            <ShortId id={e.actorUserId} />
            <span className="visually-hidden"> (show only this actor’s events)</span>
          </Link>
        ) : (
          <span className="muted">—</span>
        )}
      </td>
      <td>{e.actorTokenId ? <ShortId id={e.actorTokenId} /> : <span className="muted">—</span>}</td>
      <td>
        {e.targetId ? (
          <Link to={`/admin/audit?targetId=${encodeURIComponent(e.targetId)}`} className="user-ref">
            {e.targetType && <span className="small">{e.targetType}</span>}
            <ShortId id={e.targetId} />
            <span className="visually-hidden"> (show only events about it)</span>
          </Link>
        ) : e.targetType ? (
          <span className="small">{e.targetType}</span>
        ) : (
          <span className="muted">—</span>
        )}
      </td>
      <td className="mono small nowrap">{e.ip ?? <span className="muted">—</span>}</td>
      <td className="small user-agent">{e.userAgent ? <span title={e.userAgent}>{e.userAgent}</span> : <span className="muted">—</span>}</td>
      <td>{details ? <code className="details">{details}</code> : <span className="muted">—</span>}</td>
    </tr>
  );
}

function formFrom(current: Record<Filter, string>) {
  return {
    action: current.action,
    actorUserId: current.actorUserId,
    targetId: current.targetId,
    since: current.since ? toLocalInput(current.since) : '',
    until: current.until ? toLocalInput(current.until) : '',
  };
}

/** The actor filter takes a user id; a username typed there is turned into its id when known. */
function resolveUser(value: string, users: readonly UserDto[]): string {
  if (!value) return '';
  const user = users.find((u) => u.username.toLowerCase() === value.toLowerCase());
  return user ? user.id : value;
}
