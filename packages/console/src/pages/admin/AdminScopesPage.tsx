import { useCallback, useState, type FormEvent } from 'react';
import { api, ApiError, type ScopeEntryDto } from '../../api/client';
import { Alert, ConfirmDialog, Field, LoadError, Loading, PageHeader, Time } from '../../components/ui';
import { useDocumentTitle, useLoad } from '../../hooks';
import { asError, fieldMessage, formLevelError, RowButton, TableWrap, useActionStatus } from './shared';

export function AdminScopesPage() {
  useDocumentTitle('Scopes');
  const loaded = useLoad(() => api.admin.scopes(), []);
  const [deleting, setDeleting] = useState<ScopeEntryDto | null>(null);
  const { busy, actionError, notice, setActionError, setNotice, run } = useActionStatus();
  const closeConfirm = useCallback(() => setDeleting(null), []);

  const remove = async () => {
    if (!deleting) return;
    const scope = deleting;
    await run(
      async () => {
        await api.admin.deleteScope(scope.name);
        loaded.reload();
        return `Scope ${scope.name} was removed from the catalogue.`;
      },
      (err) => `Scope ${scope.name} was not removed: ${err.message}.`,
      () => setDeleting(null),
    );
  };

  const scopes = loaded.data?.items ?? [];
  return (
    <>
      <PageHeader title="Scopes" />
      <p className="lede">
        The scope catalogue: what people can pick when they create a token. Add the scopes your API checks; the <code>tokens:*</code> and <code>admin:*</code> scopes are
        keyfob’s own.
      </p>
      <section className="card" aria-labelledby="add-scope-title">
        <h2 id="add-scope-title">Add a scope</h2>
        <AddScopeForm
          onAdded={(scope) => {
            setActionError(null);
            setNotice(`Scope ${scope.name} was added.`);
            loaded.reload();
          }}
        />
      </section>
      {actionError && <Alert>{actionError}</Alert>}
      {notice && <Alert kind="success">{notice}</Alert>}
      {loaded.error && <LoadError error={loaded.error} onRetry={loaded.reload} />}
      {loaded.loading && !loaded.data && <Loading label="Loading scopes…" />}
      {loaded.data && scopes.length === 0 && <p className="muted">The catalogue is empty.</p>}
      {scopes.length > 0 && (
        <TableWrap label="Scope catalogue">
          <table className="admin-table">
            <caption className="visually-hidden">Scope catalogue</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Description</th>
                <th scope="col">Kind</th>
                <th scope="col">Added</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {scopes.map((s) => (
                <tr key={s.name}>
                  <td className="mono nowrap">{s.name}</td>
                  <td>{s.description || <span className="muted">—</span>}</td>
                  <td>
                    <div className="badges">
                      {s.builtin ? <span className="badge badge-builtin">built-in</span> : <span className="badge">custom</span>}
                      {s.adminOnly && <span className="badge badge-admin-only">admin only</span>}
                    </div>
                  </td>
                  <td>
                    <Time iso={s.createdAt} />
                  </td>
                  <td>
                    {s.builtin ? (
                      <span className="muted small">cannot be removed</span>
                    ) : (
                      <RowButton text="Delete" row={`scope ${s.name}`} danger onClick={() => setDeleting(s)} />
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <ConfirmDialog open={deleting !== null} title={deleting ? `Remove scope ${deleting.name}?` : ''} confirmLabel="Remove scope" danger busy={busy} onConfirm={() => void remove()} onCancel={closeConfirm}>
        <p>People can no longer choose it for new tokens. keyfob refuses while active tokens still hold it.</p>
      </ConfirmDialog>
    </>
  );
}

function AddScopeForm({ onAdded }: { onAdded: (scope: ScopeEntryDto) => void }) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    if (!name.trim()) {
      setError(new ApiError(400, 'invalid_request', 'name: enter a scope name'));
      return;
    }
    setBusy(true);
    try {
      const scope = await api.admin.createScope({ name: name.trim(), ...(description.trim() ? { description: description.trim() } : {}) });
      setName('');
      setDescription('');
      onAdded(scope);
    } catch (e) {
      const err = asError(e);
      // "already exists" and "reserved" conflicts are about the name.
      setError(err instanceof ApiError && err.status === 409 ? new ApiError(409, err.code, `name: ${err.message}`) : err);
    } finally {
      setBusy(false);
    }
  };
  const general = formLevelError(error, ['name', 'description']);
  const nameError = fieldMessage(error, 'name');
  return (
    <form className="form form-wide" onSubmit={submit} noValidate>
      {general && <Alert>{general.message}</Alert>}
      <div className="form-row">
        <Field label="Name" error={nameError && humanize(nameError)} hint="Lower case, up to four parts separated by colons, such as repo:read or billing:invoices:write.">
          {(props) => <input {...props} name="name" className="mono" required maxLength={100} autoComplete="off" value={name} onChange={(e) => setName(e.target.value)} />}
        </Field>
        <Field label="Description (optional)" error={fieldMessage(error, 'description')} hint="Shown next to the scope in the new token form.">
          {(props) => <input {...props} name="description" maxLength={500} value={description} onChange={(e) => setDescription(e.target.value)} />}
        </Field>
      </div>
      <div>
        <button type="submit" className="button button-primary" disabled={busy}>
          {busy ? 'Adding…' : 'Add scope'}
        </button>
      </div>
    </form>
  );
}

/** Ajv's pattern message is unreadable; say what the pattern means instead. */
function humanize(message: string): string {
  if (/not allowed/.test(message)) return 'Use lower-case letters, digits, _ . - and up to four parts separated by colons, such as repo:read.';
  return message;
}
