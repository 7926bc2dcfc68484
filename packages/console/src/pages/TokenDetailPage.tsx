import { useState, type FormEvent } from 'react';
import { Link, useParams } from 'react-router';
import { api, ApiError, type CreatedPatDto, type PatDto } from '../api/client';
import { Alert, ConfirmDialog, Field, LoadError, Loading, PageHeader } from '../components/ui';
import { TokenShownOnce } from '../components/TokenShownOnce';
import { TokenEvents, TokenFacts, TokenUse } from '../components/TokenSections';
import type { TokenAddress, UsageSeries } from '@keyfob/protocol';
import { useDocumentTitle, useLoad } from '../hooks';

export function TokenDetailPage() {
  const { id = '' } = useParams();
  const loaded = useLoad(() => Promise.all([api.myToken(id), api.myTokenEvents(id), api.myTokenUsage(id), api.myTokenAddresses(id)]), [id]);
  const [rotated, setRotated] = useState<CreatedPatDto | null>(null);
  useDocumentTitle(loaded.data?.[0].name ?? 'Token');

  if (rotated) {
    return (
      <>
        <PageHeader title="Token regenerated" />
        <p>The old secret no longer works. Update every place that used it.</p>
        <TokenShownOnce token={rotated.token} pat={rotated.pat} />
        <div className="actions">
          <Link className="button button-primary" to={`/tokens/${rotated.pat.id}`} onClick={() => setRotated(null)}>
            Done
          </Link>
        </div>
      </>
    );
  }
  if (loaded.error) {
    return (
      <>
        <PageHeader title="Token" />
        {loaded.error instanceof ApiError && loaded.error.status === 404 ? <Alert>This token does not exist, or it is not yours.</Alert> : <LoadError error={loaded.error} onRetry={loaded.reload} />}
        <Link to="/tokens">Back to tokens</Link>
      </>
    );
  }
  // After a rotation the URL names the new token while the old one is still loaded: wait for it.
  if (!loaded.data || loaded.data[0].id !== id) return <Loading />;
  const [pat, events, usage, addresses] = loaded.data;
  return <TokenDetail key={pat.id} pat={pat} events={events.items} usage={usage} addresses={addresses.items} onChanged={loaded.reload} onRotated={setRotated} />;
}

function TokenDetail({ pat, events, usage, addresses, onChanged, onRotated }: { pat: PatDto; events: { id: string; action: string; createdAt: string; ip: string | null; details: Record<string, unknown> }[]; usage: UsageSeries; addresses: readonly TokenAddress[]; onChanged: () => void; onRotated: (c: CreatedPatDto) => void }) {
  const [name, setName] = useState(pat.name);
  const [description, setDescription] = useState(pat.description);
  const [saveError, setSaveError] = useState<ApiError | Error | null>(null);
  const [saved, setSaved] = useState(false);
  const [confirm, setConfirm] = useState<'rotate' | 'revoke' | null>(null);
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);
  const revoked = pat.status === 'revoked';

  const save = async (event: FormEvent) => {
    event.preventDefault();
    setSaveError(null);
    setSaved(false);
    try {
      await api.updateToken(pat.id, { name, description });
      setSaved(true);
      onChanged();
    } catch (e) {
      setSaveError(e instanceof Error ? e : new Error(String(e)));
    }
  };
  const act = async () => {
    setBusy(true);
    setActionError(null);
    try {
      if (confirm === 'rotate') onRotated(await api.rotateToken(pat.id));
      else {
        await api.revokeToken(pat.id);
        onChanged();
      }
      setConfirm(null);
    } catch (e) {
      setActionError((e as Error).message);
      setConfirm(null);
    } finally {
      setBusy(false);
    }
  };
  const fieldError = (f: string) => (saveError instanceof ApiError && saveError.field === f ? saveError.message : undefined);

  return (
    <>
      <PageHeader title={pat.name}>
        {!revoked && (
          <>
            <button type="button" className="button" onClick={() => setConfirm('rotate')}>
              Regenerate
            </button>
            <button type="button" className="button button-danger" onClick={() => setConfirm('revoke')}>
              Revoke
            </button>
          </>
        )}
      </PageHeader>
      <p>
        <Link to="/tokens">← All tokens</Link>
      </p>
      {actionError && <Alert>{actionError}</Alert>}
      <TokenFacts pat={pat} />

      <section className="card" aria-labelledby="edit-title">
        <h2 id="edit-title">Name and description</h2>
        <form className="form" onSubmit={save} noValidate>
          {saveError && !(saveError instanceof ApiError && saveError.field) && <Alert>{saveError.message}</Alert>}
          {saved && <Alert kind="success">Saved.</Alert>}
          <Field label="Name" error={fieldError('name')}>
            {(props) => <input {...props} name="name" maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />}
          </Field>
          <Field label="Description" error={fieldError('description')}>
            {(props) => <textarea {...props} name="description" maxLength={500} rows={2} value={description} onChange={(e) => setDescription(e.target.value)} />}
          </Field>
          <button type="submit" className="button">
            Save
          </button>
        </form>
      </section>

      <TokenUse usage={usage} addresses={addresses} />
      <TokenEvents events={events} />

      <ConfirmDialog
        open={confirm === 'rotate'}
        title="Regenerate this token?"
        confirmLabel="Regenerate"
        busy={busy}
        onConfirm={() => void act()}
        onCancel={() => setConfirm(null)}
      >
        <p>A new secret with the same name, scopes and lifetime is created. The current secret stops working (after the grace period, if your policy sets one).</p>
      </ConfirmDialog>
      <ConfirmDialog open={confirm === 'revoke'} title="Revoke this token?" confirmLabel="Revoke token" danger busy={busy} onConfirm={() => void act()} onCancel={() => setConfirm(null)}>
        <p>Anything using “{pat.name}” will be refused at once. This cannot be undone.</p>
      </ConfirmDialog>
    </>
  );
}
