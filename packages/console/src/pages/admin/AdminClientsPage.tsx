import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { api, ApiError, type CreatedOAuthClientDto, type OAuthClientDto } from '../../api/client';
import { Alert, Dialog, Field, LoadError, Loading, PageHeader, SecretBox, StatusBadge, Time } from '../../components/ui';
import { useDocumentTitle, useLoad } from '../../hooks';
import { asError, fieldMessage, formLevelError, RowButton, TableWrap, useActionStatus } from './shared';

/**
 * One dialog for every step, so that going from a confirmation to the secret it produced keeps
 * focus inside the dialog, and closing it returns focus to the button that started it.
 */
type Mode =
  | { kind: 'register' }
  | { kind: 'secret'; client: CreatedOAuthClientDto; fresh: boolean }
  | { kind: 'rotate' | 'delete' | 'disable' | 'enable'; client: OAuthClientDto };

export function AdminClientsPage() {
  useDocumentTitle('OAuth clients');
  const loaded = useLoad(() => api.admin.clients(), []);
  const scopes = useLoad(() => api.admin.scopes(), []);
  const [mode, setMode] = useState<Mode | null>(null);
  const { busy, actionError, notice, setActionError, setNotice, run } = useActionStatus();
  const close = useCallback(() => setMode(null), []);

  const act = async () => {
    if (!mode || mode.kind === 'register' || mode.kind === 'secret') return;
    const { client, kind } = mode;
    await run(
      async () => {
        let message: string | undefined;
        if (kind === 'rotate') {
          // The dialog stays open to show the new secret once.
          const rotated = await api.admin.rotateClientSecret(client.clientId);
          setMode({ kind: 'secret', client: rotated, fresh: false });
        } else if (kind === 'delete') {
          await api.admin.deleteClient(client.clientId);
          message = `Client ${client.name} was deleted.`;
          setMode(null);
        } else {
          const updated = await api.admin.updateClient(client.clientId, { disabled: kind === 'disable' });
          message = `Client ${updated.name} was ${updated.disabled ? 'disabled' : 'enabled'}.`;
          setMode(null);
        }
        loaded.reload();
        return message;
      },
      (error) => {
        setMode(null);
        return `${client.name}: ${error.message}`;
      },
    );
  };

  const clients = loaded.data?.items ?? [];
  return (
    <>
      <PageHeader title="OAuth clients">
        <button type="button" className="button button-primary" onClick={() => setMode({ kind: 'register' })}>
          Register client
        </button>
      </PageHeader>
      <p className="lede">
        Resource servers and gateways that exchange personal access tokens for short-lived JWTs (<code>/oauth/token</code>) or check them by introspection (
        <code>/oauth/introspect</code>). Each authenticates with its client id and secret.
      </p>
      {actionError && <Alert>{actionError}</Alert>}
      {notice && <Alert kind="success">{notice}</Alert>}
      {loaded.error && <LoadError error={loaded.error} onRetry={loaded.reload} />}
      {loaded.loading && !loaded.data && <Loading label="Loading clients…" />}
      {loaded.data && clients.length === 0 && (
        <section className="empty" aria-label="No clients yet">
          <h2>No clients yet</h2>
          <p>Register a client for each service that exchanges or introspects tokens.</p>
        </section>
      )}
      {clients.length > 0 && (
        <TableWrap label="OAuth clients">
          <table className="admin-table">
            <caption className="visually-hidden">OAuth clients</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Audiences</th>
                <th scope="col">Scopes</th>
                <th scope="col">Status</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {clients.map((c) => (
                <tr key={c.clientId}>
                  <td>
                    <span className="strong">{c.name}</span>
                    <div className="muted small mono break">{c.clientId}</div>
                  </td>
                  <td>{c.allowedAudiences.length > 0 ? <List items={c.allowedAudiences} label={`Audiences of ${c.name}`} /> : <span className="muted">any</span>}</td>
                  <td>{c.allowedScopes === null ? <span className="muted">no limit</span> : c.allowedScopes.length === 0 ? <span className="muted">none</span> : <List items={c.allowedScopes} label={`Scopes of ${c.name}`} />}</td>
                  <td>
                    <StatusBadge status={c.disabled ? 'disabled' : 'active'} />
                    <div className="small muted nowrap">{c.introspection ? 'may introspect' : 'no introspection'}</div>
                  </td>
                  <td>
                    <Time iso={c.createdAt} />
                  </td>
                  <td>
                    <div className="row-actions row-actions-stack">
                      <RowButton text={c.disabled ? 'Enable' : 'Disable'} row={`client ${c.name}`} onClick={() => setMode({ kind: c.disabled ? 'enable' : 'disable', client: c })} />
                      <RowButton text="Rotate secret" row={`of client ${c.name}`} onClick={() => setMode({ kind: 'rotate', client: c })} />
                      <RowButton text="Delete" row={`client ${c.name}`} danger onClick={() => setMode({ kind: 'delete', client: c })} />
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}

      <Dialog open={mode !== null} title={mode ? dialogTitle(mode) : ''} onClose={close}>
        {mode?.kind === 'register' && (
          <RegisterForm
            scopeNames={scopes.data?.items.map((s) => s.name) ?? []}
            onCancel={close}
            onCreated={(client) => {
              setActionError(null);
              setNotice(null);
              setMode({ kind: 'secret', client, fresh: true });
              loaded.reload();
            }}
          />
        )}
        {mode?.kind === 'secret' && <SecretShownOnce client={mode.client} fresh={mode.fresh} onDone={close} />}
        {mode && mode.kind !== 'register' && mode.kind !== 'secret' && (
          <>
            <div className="dialog-body">
              <p>{confirmText(mode.kind, mode.client)}</p>
            </div>
            <div className="actions">
              <button type="button" className="button" onClick={close} autoFocus>
                Cancel
              </button>
              <button type="button" className={`button ${mode.kind === 'enable' ? 'button-primary' : 'button-danger'}`} onClick={() => void act()} disabled={busy}>
                {busy ? 'Working…' : confirmLabel(mode.kind)}
              </button>
            </div>
          </>
        )}
      </Dialog>
    </>
  );
}

function List({ items, label }: { items: readonly string[]; label: string }) {
  return (
    <ul className="chips chips-wrap" aria-label={label}>
      {items.map((i) => (
        <li key={i} className="chip">
          {i}
        </li>
      ))}
    </ul>
  );
}

function dialogTitle(mode: Mode): string {
  switch (mode.kind) {
    case 'register':
      return 'Register an OAuth client';
    case 'secret':
      return mode.fresh ? `Client ${mode.client.name} registered` : `New secret for ${mode.client.name}`;
    case 'rotate':
      return `Rotate the secret of ${mode.client.name}?`;
    case 'delete':
      return `Delete client ${mode.client.name}?`;
    case 'disable':
      return `Disable client ${mode.client.name}?`;
    case 'enable':
      return `Enable client ${mode.client.name}?`;
  }
}

function confirmText(kind: 'rotate' | 'delete' | 'disable' | 'enable', client: OAuthClientDto): string {
  switch (kind) {
    case 'rotate':
      return `A new secret is generated and shown once. The current secret of ${client.name} stops working at once, so update the service right after.`;
    case 'delete':
      return `${client.name} can no longer exchange, introspect or revoke tokens, and its id and secret are gone for good. This cannot be undone.`;
    case 'disable':
      return `${client.name} is refused at /oauth/token, /oauth/introspect and /oauth/revoke until you enable it again.`;
    case 'enable':
      return `${client.name} can authenticate again with its current secret.`;
  }
}

function confirmLabel(kind: 'rotate' | 'delete' | 'disable' | 'enable'): string {
  return { rotate: 'Rotate secret', delete: 'Delete client', disable: 'Disable client', enable: 'Enable client' }[kind];
}

function SecretShownOnce({ client, fresh, onDone }: { client: CreatedOAuthClientDto; fresh: boolean; onDone: () => void }) {
  const warning = useRef<HTMLDivElement>(null);
  useEffect(() => warning.current?.focus(), []);
  return (
    <div className="dialog-body">
      <div ref={warning} tabIndex={-1} className="focus-target">
        <Alert kind="warning">
          <strong>Copy the secret now.</strong> It will not be shown again; keyfob keeps only a hash of it.{fresh ? '' : ' The previous secret no longer works.'}
        </Alert>
      </div>
      <p className="secret-label">Client id</p>
      <SecretBox value={client.clientId} label="Client id" />
      <p className="secret-label">Client secret</p>
      <SecretBox value={client.clientSecret} label="Client secret" />
      <p className="muted small">
        Send them with HTTP Basic authentication (<code>client_secret_basic</code>) or as <code>client_id</code> and <code>client_secret</code> form fields.
      </p>
      <div className="actions">
        <button type="button" className="button button-primary" onClick={onDone}>
          I have copied the secret
        </button>
      </div>
    </div>
  );
}

function RegisterForm({ scopeNames, onCreated, onCancel }: { scopeNames: readonly string[]; onCreated: (c: CreatedOAuthClientDto) => void; onCancel: () => void }) {
  const [name, setName] = useState('');
  const [audiences, setAudiences] = useState('');
  const [scopes, setScopes] = useState('');
  const [introspection, setIntrospection] = useState(true);
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const fields = ['name', 'allowedAudiences', 'allowedScopes', 'introspection'];

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    if (!name.trim()) {
      setError(new ApiError(400, 'invalid_request', 'name: enter a name'));
      return;
    }
    const lines = (text: string) => [...new Set(text.split(/[\n,]/).map((l) => l.trim()).filter(Boolean))];
    setBusy(true);
    try {
      onCreated(
        await api.admin.createClient({
          name: name.trim(),
          allowedAudiences: lines(audiences),
          ...(lines(scopes).length > 0 ? { allowedScopes: lines(scopes) } : {}),
          introspection,
        }),
      );
    } catch (e) {
      setError(asError(e));
    } finally {
      setBusy(false);
    }
  };
  const general = formLevelError(error, fields);
  return (
    <form className="form" onSubmit={submit} noValidate>
      {general && <Alert>{general.message}</Alert>}
      <Field label="Name" error={fieldMessage(error, 'name')} hint="The service, such as “billing API gateway”.">
        {(props) => <input {...props} name="name" required maxLength={100} autoComplete="off" value={name} onChange={(e) => setName(e.target.value)} />}
      </Field>
      <Field label="Allowed audiences" error={fieldMessage(error, 'allowedAudiences')} hint="Resource URIs this client may ask tokens for, one per line, such as https://api.example.com. Empty: any.">
        {(props) => <textarea {...props} name="allowedAudiences" rows={3} value={audiences} onChange={(e) => setAudiences(e.target.value)} />}
      </Field>
      <Field
        label="Allowed scopes (optional)"
        error={fieldMessage(error, 'allowedScopes')}
        hint={
          <>
            One per line. Exchanged tokens never get more than these, nor more than the personal token holds. Empty: no limit beyond the token’s own scopes.
            {scopeNames.length > 0 && <> Catalogue: {scopeNames.join(', ')}.</>}
          </>
        }
      >
        {(props) => <textarea {...props} name="allowedScopes" rows={3} className="mono" value={scopes} onChange={(e) => setScopes(e.target.value)} />}
      </Field>
      <div className="field">
        <label className="checkbox">
          <input type="checkbox" name="introspection" checked={introspection} onChange={(e) => setIntrospection(e.target.checked)} />
          <span>May use token introspection (/oauth/introspect)</span>
        </label>
        {fieldMessage(error, 'introspection') && <p className="field-error">{fieldMessage(error, 'introspection')}</p>}
      </div>
      <div className="actions">
        <button type="submit" className="button button-primary" disabled={busy}>
          {busy ? 'Registering…' : 'Register client'}
        </button>
        <button type="button" className="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
