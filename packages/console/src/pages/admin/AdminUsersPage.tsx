import { useCallback, useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router';
import { api, ApiError, type UserDto } from '../../api/client';
import { useAuth } from '../../auth';
import { Alert, ConfirmDialog, Dialog, Field, LoadError, Loading, PageHeader, StatusBadge, Time } from '../../components/ui';
import { useDocumentTitle } from '../../hooks';
import { asError, fieldMessage, formLevelError, LoadMore, RowButton, RowLabel, usePaged, TableWrap, useActionStatus } from './shared';

type Role = UserDto['role'];
type Pending = { kind: 'role'; user: UserDto; role: Role } | { kind: 'disable' | 'enable' | 'delete'; user: UserDto };

export function AdminUsersPage() {
  useDocumentTitle('Users');
  const { user: me, refreshUser } = useAuth();
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const [search, setSearch] = useState(q);
  const list = usePaged((cursor) => api.admin.users({ q, cursor, limit: 50 }), [q]);
  const [creating, setCreating] = useState(false);
  const [pending, setPending] = useState<Pending | null>(null);
  const { busy, actionError, notice, setActionError, setNotice, run } = useActionStatus();

  const closeCreate = useCallback(() => setCreating(false), []);
  const closeConfirm = useCallback(() => setPending(null), []);

  const act = async () => {
    if (!pending) return;
    const { user } = pending;
    await run(
      async () => {
        let message: string;
        if (pending.kind === 'delete') {
          await api.admin.deleteUser(user.id);
          list.update((items) => items.filter((u) => u.id !== user.id));
          message = `User ${user.username} was deleted, with all of their tokens.`;
        } else {
          const body = pending.kind === 'role' ? { role: pending.role } : { disabled: pending.kind === 'disable' };
          const updated = await api.admin.updateUser(user.id, body);
          list.update((items) => items.map((u) => (u.id === updated.id ? updated : u)));
          message =
            pending.kind === 'role'
              ? `${user.username} is now ${updated.role === 'admin' ? 'an admin' : 'a user'}.`
              : `${user.username} was ${updated.disabled ? 'disabled' : 'enabled'}.`;
        }
        // Acting on one's own account changes what this session may see; a deleted or disabled
        // account ends the session, which the app notices on this request.
        if (user.id === me?.id) await refreshUser().catch(() => undefined);
        return message;
      },
      (error) => (error instanceof ApiError && error.status === 409 ? `Not changed: ${error.message}.` : error.message),
      () => setPending(null),
    );
  };

  return (
    <>
      <PageHeader title="Users">
        <button type="button" className="button button-primary" onClick={() => setCreating(true)}>
          New user
        </button>
      </PageHeader>
      <p className="lede">People who can sign in to keyfob. Disabling a user stops their tokens at once; deleting removes the user and every token they own.</p>
      <div className="toolbar">
        <form
          role="search"
          className="inline"
          onSubmit={(e) => {
            e.preventDefault();
            setParams((p) => {
              if (search.trim()) p.set('q', search.trim());
              else p.delete('q');
              return p;
            });
          }}
        >
          <label htmlFor="user-search" className="visually-hidden">
            Search users by username
          </label>
          <input id="user-search" type="search" placeholder="Search by username" value={search} onChange={(e) => setSearch(e.target.value)} />
          <button type="submit" className="button">
            Search
          </button>
        </form>
      </div>
      {actionError && <Alert>{actionError}</Alert>}
      {notice && <Alert kind="success">{notice}</Alert>}
      {list.error && <LoadError error={list.error} onRetry={list.reload} />}
      {list.loading && !list.data && <Loading label="Loading users…" />}
      {list.data && list.items.length === 0 && <p className="muted">{q ? `No users matching “${q}”.` : 'No users.'}</p>}
      {list.items.length > 0 && (
        <TableWrap label="Users">
          <table className="admin-table">
            <caption className="visually-hidden">Users{q ? ` matching “${q}”` : ''}</caption>
            <thead>
              <tr>
                <th scope="col">Username</th>
                <th scope="col">Display name</th>
                <th scope="col">Role</th>
                <th scope="col">Status</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((u) => (
                <tr key={u.id}>
                  <td>
                    <span className="strong">{u.username}</span>
                    {u.id === me?.id && <span className="muted small"> (you)</span>}
                    {u.email && <div className="muted small">{u.email}</div>}
                  </td>
                  <td>{u.displayName || <span className="muted">—</span>}</td>
                  <td>
                    <span className={`badge badge-role-${u.role}`}>{u.role}</span>
                  </td>
                  <td>
                    <StatusBadge status={u.disabled ? 'disabled' : 'active'} />
                  </td>
                  <td>
                    <Time iso={u.createdAt} />
                  </td>
                  <td>
                    <div className="row-actions">
                      <Link className="button button-small" to={`/admin/tokens?user=${encodeURIComponent(u.username)}`}>
                        <RowLabel text="Tokens" row={`of ${u.username}`} />
                      </Link>
                      <RowButton text={u.role === 'admin' ? 'Make user' : 'Make admin'} row={u.username} onClick={() => setPending({ kind: 'role', user: u, role: u.role === 'admin' ? 'user' : 'admin' })} />
                      <RowButton text={u.disabled ? 'Enable' : 'Disable'} row={`user ${u.username}`} onClick={() => setPending({ kind: u.disabled ? 'enable' : 'disable', user: u })} />
                      <RowButton text="Delete" row={`user ${u.username}`} danger onClick={() => setPending({ kind: 'delete', user: u })} />
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <LoadMore list={list} what="users" />

      <Dialog open={creating} title="New user" onClose={closeCreate}>
        {creating && (
          <CreateUserForm
            onCancel={closeCreate}
            onCreated={(created) => {
              setCreating(false);
              setActionError(null);
              setNotice(`User ${created.username} was created. Give them their password through a safe channel; they can change it under Profile.`);
              list.update((items) => [created, ...items.filter((u) => u.id !== created.id)]);
            }}
          />
        )}
      </Dialog>
      <ConfirmDialog
        open={pending !== null}
        title={pending ? confirmTitle(pending) : ''}
        confirmLabel={pending ? confirmLabel(pending) : ''}
        danger={pending?.kind === 'delete' || pending?.kind === 'disable'}
        busy={busy}
        onConfirm={() => void act()}
        onCancel={closeConfirm}
      >
        {pending && <ConfirmBody pending={pending} self={pending.user.id === me?.id} />}
      </ConfirmDialog>
    </>
  );
}

function confirmTitle(p: Pending): string {
  switch (p.kind) {
    case 'role':
      return p.role === 'admin' ? `Make ${p.user.username} an admin?` : `Remove admin rights from ${p.user.username}?`;
    case 'disable':
      return `Disable ${p.user.username}?`;
    case 'enable':
      return `Enable ${p.user.username}?`;
    case 'delete':
      return `Delete ${p.user.username}?`;
  }
}

function confirmLabel(p: Pending): string {
  switch (p.kind) {
    case 'role':
      return p.role === 'admin' ? 'Make admin' : 'Make user';
    case 'disable':
      return 'Disable user';
    case 'enable':
      return 'Enable user';
    case 'delete':
      return 'Delete user';
  }
}

function ConfirmBody({ pending, self }: { pending: Pending; self: boolean }) {
  const name = pending.user.username;
  return (
    <>
      {pending.kind === 'role' && pending.role === 'admin' && <p>{name} will be able to manage users, every token, the policy and the scope catalogue.</p>}
      {pending.kind === 'role' && pending.role === 'user' && <p>{name} loses access to the admin pages; their tokens with admin scopes stop granting them at once.</p>}
      {pending.kind === 'disable' && <p>{name} can no longer sign in, and every token they own is refused until they are enabled again.</p>}
      {pending.kind === 'enable' && <p>{name} can sign in again, and their unexpired, unrevoked tokens work again.</p>}
      {pending.kind === 'delete' && <p>{name} and every token they own are removed. This cannot be undone.</p>}
      {self && pending.kind !== 'enable' && (
        <p className="alert alert-warning">This is your own account{pending.kind === 'role' ? '; you will lose access to this page' : '; you will be signed out'}.</p>
      )}
    </>
  );
}

function CreateUserForm({ onCreated, onCancel }: { onCreated: (user: UserDto) => void; onCancel: () => void }) {
  const [username, setUsername] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>('user');
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const fields = ['username', 'password', 'role', 'displayName'];

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onCreated(await api.admin.createUser({ username: username.trim(), password, role, ...(displayName.trim() ? { displayName: displayName.trim() } : {}) }));
    } catch (e) {
      const err = asError(e);
      // A taken username is a conflict about the username field.
      setError(err instanceof ApiError && err.status === 409 && /username/i.test(err.message) ? new ApiError(409, err.code, `username: ${err.message}`) : err);
    } finally {
      setBusy(false);
    }
  };
  const general = formLevelError(error, fields);
  return (
    <form className="form" onSubmit={submit} noValidate>
      {general && <Alert>{general.message}</Alert>}
      <Field label="Username" error={fieldMessage(error, 'username')} hint="Letters, digits and . _ @ + -">
        {(props) => <input {...props} name="username" autoComplete="off" required maxLength={100} value={username} onChange={(e) => setUsername(e.target.value)} />}
      </Field>
      <Field label="Display name (optional)" error={fieldMessage(error, 'displayName')}>
        {(props) => <input {...props} name="displayName" maxLength={200} value={displayName} onChange={(e) => setDisplayName(e.target.value)} />}
      </Field>
      <Field label="Password" error={fieldMessage(error, 'password')} hint="At least 8 characters.">
        {(props) => <input {...props} name="password" type="password" autoComplete="new-password" required minLength={8} value={password} onChange={(e) => setPassword(e.target.value)} />}
      </Field>
      <Field label="Role" error={fieldMessage(error, 'role')}>
        {(props) => (
          <select {...props} name="role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            <option value="user">User</option>
            <option value="admin">Admin</option>
          </select>
        )}
      </Field>
      <div className="actions">
        <button type="submit" className="button button-primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create user'}
        </button>
        <button type="button" className="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
