import { useCallback, useState } from 'react';
import { Link, useParams } from 'react-router';
import { api, ApiError } from '../../api/client';
import { TokenEvents, TokenFacts, TokenUse } from '../../components/TokenSections';
import { Alert, ConfirmDialog, LoadError, Loading, PageHeader } from '../../components/ui';
import { useDocumentTitle, useLoad } from '../../hooks';
import { useActionStatus } from './shared';

/** Any user's token, for admins: its facts, use and activity, and revocation (not rename or rotation: those are the owner's). */
export function AdminTokenPage() {
  const { id = '' } = useParams();
  const loaded = useLoad(async () => {
    const [pat, usage, addresses, events] = await Promise.all([api.admin.token(id), api.admin.tokenUsage(id), api.admin.tokenAddresses(id), api.admin.audit({ targetId: id, limit: 50 })]);
    // A missing owner only costs the name: the id is shown instead.
    const owner = await api.admin.user(pat.userId).catch(() => null);
    return { pat, usage, addresses, events, owner };
  }, [id]);
  const [confirm, setConfirm] = useState(false);
  const { busy, actionError, notice, run } = useActionStatus();
  const close = useCallback(() => setConfirm(false), []);
  useDocumentTitle(loaded.data?.pat.name ?? 'Token');

  if (loaded.error) {
    return (
      <>
        <PageHeader title="Token" />
        {loaded.error instanceof ApiError && loaded.error.status === 404 ? <Alert>This token does not exist.</Alert> : <LoadError error={loaded.error} onRetry={loaded.reload} />}
        <Link to="/admin/tokens">Back to all tokens</Link>
      </>
    );
  }
  if (!loaded.data || loaded.data.pat.id !== id) return <Loading />;
  const { pat, usage, addresses, events, owner } = loaded.data;
  const ownerName = owner?.username ?? pat.userId;

  const revoke = () =>
    run(
      async () => {
        await api.admin.revokeToken(pat.id);
        loaded.reload();
        return `Token “${pat.name}” was revoked.`;
      },
      (err) => `Token “${pat.name}” was not revoked: ${err.message}`,
      close,
    );

  return (
    <>
      <PageHeader title={pat.name}>
        {pat.status !== 'revoked' && (
          <button type="button" className="button button-danger" onClick={() => setConfirm(true)}>
            Revoke
          </button>
        )}
      </PageHeader>
      <p>
        <Link to={`/admin/tokens?user=${encodeURIComponent(ownerName)}`}>← All tokens of {ownerName}</Link>
      </p>
      {actionError && <Alert>{actionError}</Alert>}
      {notice && <Alert kind="success">{notice}</Alert>}
      <TokenFacts
        pat={pat}
        extra={
          <>
            <dt>Owner</dt>
            <dd>{owner ? owner.username : <span className="mono small">{pat.userId}</span>}</dd>
          </>
        }
      />
      {pat.description && (
        <section className="card" aria-labelledby="description-title">
          <h2 id="description-title">Description</h2>
          <p>{pat.description}</p>
        </section>
      )}
      <TokenUse usage={usage} addresses={addresses.items} />
      <TokenEvents events={events.items} />

      <ConfirmDialog open={confirm} title="Revoke this token?" confirmLabel="Revoke token" danger busy={busy} onConfirm={() => void revoke()} onCancel={close}>
        <p>
          Anything using “{pat.name}” (owned by {ownerName}) will be refused at once. This cannot be undone.
        </p>
      </ConfirmDialog>
    </>
  );
}
