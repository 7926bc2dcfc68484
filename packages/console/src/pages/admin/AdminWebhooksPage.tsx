import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { Link, useParams } from 'react-router';
import { WEBHOOK_EVENT_TYPES } from '@keyfob/protocol';
import { api, ApiError, type CreatedWebhookDto, type WebhookDeliveryDto, type WebhookDto } from '../../api/client';
import { Alert, Dialog, Field, LoadError, Loading, PageHeader, SecretBox, StatusBadge, Time } from '../../components/ui';
import { useDocumentTitle, useLoad } from '../../hooks';
import { asError, fieldMessage, formLevelError, HeadRow, LoadMore, RowButton, TableWrap, useActionStatus, usePaged } from './shared';

type Mode = { kind: 'register' } | { kind: 'secret'; webhook: CreatedWebhookDto; fresh: boolean } | { kind: 'rotate' | 'delete'; webhook: WebhookDto };

/** Groups of the event picker: everything, a whole kind, or single types. */
const KINDS = [...new Set(WEBHOOK_EVENT_TYPES.map((t) => t.slice(0, t.indexOf('.'))))];

export function AdminWebhooksPage() {
  useDocumentTitle('Webhooks');
  const loaded = useLoad(() => api.admin.webhooks(), []);
  const [mode, setMode] = useState<Mode | null>(null);
  const [deleted, setDeleted] = useState<ReadonlySet<string>>(new Set());
  const { busy, actionError, notice, setActionError, setNotice, run } = useActionStatus();
  const close = useCallback(() => setMode(null), []);

  const toggle = (webhook: WebhookDto) =>
    run(
      async () => {
        const updated = await api.admin.updateWebhook(webhook.id, { active: !webhook.active });
        loaded.reload();
        return `Webhook ${updated.url} ${updated.active ? 'resumed' : 'paused'}.`;
      },
      (error) => `${webhook.url}: ${error.message}`,
    );

  const act = async () => {
    if (!mode || (mode.kind !== 'rotate' && mode.kind !== 'delete')) return;
    const { webhook, kind } = mode;
    await run(
      async () => {
        if (kind === 'rotate') {
          setMode({ kind: 'secret', webhook: await api.admin.rotateWebhookSecret(webhook.id), fresh: false });
          return undefined;
        }
        await api.admin.deleteWebhook(webhook.id);
        // The row goes with the dialog, so that focus moves on from its button (Dialog's fallback).
        setDeleted((ids) => new Set(ids).add(webhook.id));
        setMode(null);
        loaded.reload();
        return `Webhook ${webhook.url} was deleted.`;
      },
      (error) => {
        setMode(null);
        return `${webhook.url}: ${error.message}`;
      },
    );
  };

  const hooks = (loaded.data?.items ?? []).filter((w) => !deleted.has(w.id));
  return (
    <>
      <PageHeader title="Webhooks">
        <button type="button" className="button button-primary" onClick={() => setMode({ kind: 'register' })}>
          Add webhook
        </button>
      </PageHeader>
      <p className="lede">
        keyfob posts each event you pick as JSON <code>{'{ id, type, createdAt, data }'}</code>, signed in the <code>Keyfob-Signature</code> header (
        <code>t=&lt;unix seconds&gt;,v1=&lt;hex HMAC-SHA-256 of “t.body”&gt;</code>), and retries failures for about a day.
      </p>
      {actionError && <Alert>{actionError}</Alert>}
      {notice && <Alert kind="success">{notice}</Alert>}
      {loaded.error && <LoadError error={loaded.error} onRetry={loaded.reload} />}
      {loaded.loading && !loaded.data && <Loading label="Loading webhooks…" />}
      {loaded.data && hooks.length === 0 && (
        <section className="empty" aria-label="No webhooks yet">
          <h2>No webhooks yet</h2>
          <p>Add one to hear about tokens created, revoked, leaked or about to expire, and about users.</p>
        </section>
      )}
      {hooks.length > 0 && (
        <TableWrap label="Webhooks">
          <table className="admin-table">
            <caption className="visually-hidden">Webhooks</caption>
            <HeadRow columns={['Endpoint', 'Events', 'Status', 'Created']} actions />
            <tbody>
              {hooks.map((w) => (
                <tr key={w.id}>
                  <td>
                    <Link to={`/admin/webhooks/${w.id}`} className="strong break">
                      {w.url}
                    </Link>
                    {w.description && <div className="muted small">{w.description}</div>}
                  </td>
                  <td>
                    <ul className="chips chips-wrap" aria-label={`Events of ${w.url}`}>
                      {w.events.map((e) => (
                        <li key={e} className="chip">
                          {e}
                        </li>
                      ))}
                    </ul>
                  </td>
                  <td>
                    <StatusBadge status={w.active ? 'active' : 'paused'} />
                  </td>
                  <td>
                    <Time iso={w.createdAt} />
                  </td>
                  <td>
                    <div className="row-actions row-actions-stack">
                      <RowButton text={w.active ? 'Pause' : 'Resume'} row={`webhook ${w.url}`} onClick={() => void toggle(w)} />
                      <RowButton text="Rotate secret" row={`of webhook ${w.url}`} onClick={() => setMode({ kind: 'rotate', webhook: w })} />
                      <RowButton text="Delete" row={`webhook ${w.url}`} danger onClick={() => setMode({ kind: 'delete', webhook: w })} />
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
            onCancel={close}
            onCreated={(webhook) => {
              setActionError(null);
              setNotice(null);
              setMode({ kind: 'secret', webhook, fresh: true });
              loaded.reload();
            }}
          />
        )}
        {mode?.kind === 'secret' && <SecretShownOnce webhook={mode.webhook} fresh={mode.fresh} onDone={close} />}
        {(mode?.kind === 'rotate' || mode?.kind === 'delete') && (
          <>
            <div className="dialog-body">
              <p>
                {mode.kind === 'rotate'
                  ? `A new signing secret is generated and shown once. Deliveries to ${mode.webhook.url} are signed with it from now on, so update the receiver right after.`
                  : `${mode.webhook.url} gets no more deliveries, and its delivery log is deleted. This cannot be undone.`}
              </p>
            </div>
            <div className="actions">
              <button type="button" className="button" onClick={close} autoFocus>
                Cancel
              </button>
              <button type="button" className="button button-danger" onClick={() => void act()} disabled={busy}>
                {busy ? 'Working…' : mode.kind === 'rotate' ? 'Rotate secret' : 'Delete webhook'}
              </button>
            </div>
          </>
        )}
      </Dialog>
    </>
  );
}

function dialogTitle(mode: Mode): string {
  switch (mode.kind) {
    case 'register':
      return 'Add a webhook';
    case 'secret':
      return mode.fresh ? 'Webhook added' : 'New signing secret';
    case 'rotate':
      return 'Rotate the signing secret?';
    case 'delete':
      return 'Delete this webhook?';
  }
}

function SecretShownOnce({ webhook, fresh, onDone }: { webhook: CreatedWebhookDto; fresh: boolean; onDone: () => void }) {
  const warning = useRef<HTMLDivElement>(null);
  useEffect(() => warning.current?.focus(), []);
  return (
    <div className="dialog-body">
      <div ref={warning} tabIndex={-1} className="focus-target">
        <Alert kind="warning">
          <strong>Copy the signing secret now.</strong> It will not be shown again.{fresh ? '' : ' The previous secret no longer signs deliveries.'}
        </Alert>
      </div>
      <p className="secret-label">Signing secret for {webhook.url}</p>
      <SecretBox value={webhook.secret} label="Signing secret" />
      <p className="muted small">
        Check each delivery: compute HMAC-SHA-256 of <code>&lt;t&gt;.&lt;raw body&gt;</code> with this secret, compare it with <code>v1</code> in constant time, and refuse a <code>t</code> more than a few minutes old.
      </p>
      <div className="actions">
        <button type="button" className="button button-primary" onClick={onDone}>
          I have copied the secret
        </button>
      </div>
    </div>
  );
}

function RegisterForm({ onCreated, onCancel }: { onCreated: (w: CreatedWebhookDto) => void; onCancel: () => void }) {
  const [url, setUrl] = useState('');
  const [description, setDescription] = useState('');
  const [events, setEvents] = useState<ReadonlySet<string>>(new Set(['token.*']));
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const fields = ['url', 'events', 'description'];
  const flip = (value: string) =>
    setEvents((current) => {
      const next = new Set(current);
      if (next.has(value)) next.delete(value);
      else next.add(value);
      return next;
    });

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    if (!url.trim()) return setError(new ApiError(400, 'invalid_request', 'url: enter the receiver’s URL'));
    if (events.size === 0) return setError(new ApiError(400, 'invalid_request', 'events: pick at least one event'));
    setBusy(true);
    try {
      onCreated(await api.admin.createWebhook({ url: url.trim(), events: [...events], description: description.trim() }));
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
      <Field label="Payload URL" error={fieldMessage(error, 'url')} hint="Where keyfob posts events, such as https://hooks.example.com/keyfob.">
        {(props) => <input {...props} name="url" type="url" required maxLength={2048} autoComplete="off" value={url} onChange={(e) => setUrl(e.target.value)} />}
      </Field>
      <Field label="Description (optional)" error={fieldMessage(error, 'description')}>
        {(props) => <input {...props} name="description" maxLength={500} value={description} onChange={(e) => setDescription(e.target.value)} />}
      </Field>
      <fieldset className="field">
        <legend>Events</legend>
        {fieldMessage(error, 'events') && <p className="field-error">{fieldMessage(error, 'events')}</p>}
        <label className="checkbox">
          <input type="checkbox" checked={events.has('*')} onChange={() => flip('*')} />
          <span>Every event (*)</span>
        </label>
        {KINDS.map((kind) => (
          <div key={kind} className="event-group">
            <label className="checkbox">
              <input type="checkbox" checked={events.has(`${kind}.*`)} onChange={() => flip(`${kind}.*`)} />
              <span>All {kind} events ({kind}.*)</span>
            </label>
            <div className="event-types">
              {WEBHOOK_EVENT_TYPES.filter((t) => t.startsWith(`${kind}.`)).map((type) => (
                <label key={type} className="checkbox">
                  <input type="checkbox" checked={events.has(type)} onChange={() => flip(type)} />
                  <span className="mono">{type}</span>
                </label>
              ))}
            </div>
          </div>
        ))}
      </fieldset>
      <div className="actions">
        <button type="submit" className="button button-primary" disabled={busy}>
          {busy ? 'Adding…' : 'Add webhook'}
        </button>
        <button type="button" className="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** One webhook's delivery log, with the body of each delivery and a way to send it again. */
export function AdminWebhookDeliveriesPage() {
  const { id = '' } = useParams();
  const hook = useLoad(() => api.admin.webhook(id), [id]);
  useDocumentTitle(hook.data ? `Deliveries to ${hook.data.url}` : 'Webhook deliveries');
  const list = usePaged((cursor) => api.admin.webhookDeliveries(id, cursor === undefined ? {} : { cursor }), [id]);
  const { actionError, notice, run } = useActionStatus();

  const resend = (delivery: WebhookDeliveryDto) =>
    run(
      async () => {
        const copy = await api.admin.redeliverWebhook(id, delivery.id);
        list.update((items) => [copy, ...items]);
        return `The ${delivery.eventType} event is queued to be sent again.`;
      },
      (error) => `Could not send it again: ${error.message}`,
    );

  return (
    <>
      <PageHeader title="Webhook deliveries">
        <Link to="/admin/webhooks" className="button">
          All webhooks
        </Link>
        <button type="button" className="button" onClick={list.reload}>
          Refresh
        </button>
      </PageHeader>
      {hook.data && (
        <p className="lede">
          Deliveries to <span className="mono break">{hook.data.url}</span> ({hook.data.active ? 'active' : 'paused'}), newest first.
        </p>
      )}
      {hook.error && <LoadError error={hook.error} onRetry={hook.reload} />}
      {actionError && <Alert>{actionError}</Alert>}
      {notice && <Alert kind="success">{notice}</Alert>}
      {list.error && <LoadError error={list.error} onRetry={list.reload} />}
      {list.loading && list.items.length === 0 && <Loading label="Loading deliveries…" />}
      {!list.loading && !list.error && list.items.length === 0 && (
        <section className="empty" aria-label="No deliveries yet">
          <h2>No deliveries yet</h2>
          <p>Deliveries appear here a few seconds after an event this webhook listens to.</p>
        </section>
      )}
      {list.items.length > 0 && (
        <TableWrap label="Deliveries">
          <table className="admin-table">
            <caption className="visually-hidden">Deliveries</caption>
            <HeadRow columns={['Event', 'Status', 'Attempts', 'Answer', 'Created']} actions />
            <tbody>
              {list.items.map((d) => (
                <tr key={d.id}>
                  <td>
                    <span className="mono strong">{d.eventType}</span>
                    <details>
                      <summary className="small">Body</summary>
                      <pre className="mono small payload" tabIndex={0} role="region" aria-label={`Body of the ${d.eventType} delivery`}>{JSON.stringify(d.payload, null, 2)}</pre>
                    </details>
                    {d.redeliveryOf && <div className="muted small">re-send</div>}
                  </td>
                  <td>
                    <StatusBadge status={d.status} />
                    {d.status === 'pending' && d.nextAttemptAt && (
                      <div className="muted small">
                        next try <Time iso={d.nextAttemptAt} />
                      </div>
                    )}
                  </td>
                  <td>{d.attempts}</td>
                  <td className="small">{d.error ?? (d.responseStatus !== null ? `HTTP ${d.responseStatus}` : '—')}</td>
                  <td>
                    <Time iso={d.createdAt} />
                  </td>
                  <td>
                    <RowButton text="Send again" row={`${d.eventType} delivery ${d.id}`} onClick={() => void resend(d)} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <LoadMore list={list} what="deliveries" />
    </>
  );
}
