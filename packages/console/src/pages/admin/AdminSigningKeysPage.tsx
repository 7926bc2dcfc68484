import { useCallback, useState } from 'react';
import { api, type SigningKeyDto } from '../../api/client';
import { Alert, ConfirmDialog, LoadError, Loading, PageHeader } from '../../components/ui';
import { useDocumentTitle, useLoad } from '../../hooks';
import { AbsoluteTime, TableWrap, useActionStatus } from './shared';

const ORDER: Record<SigningKeyDto['status'], number> = { active: 0, next: 1, retired: 2 };

export function AdminSigningKeysPage() {
  useDocumentTitle('Signing keys');
  const loaded = useLoad(() => api.admin.signingKeys(), []);
  const [confirming, setConfirming] = useState(false);
  const { busy, actionError, notice, run } = useActionStatus();
  const close = useCallback(() => setConfirming(false), []);

  const rotate = () =>
    run(
      async () => {
        const after = await api.admin.rotateSigningKeys();
        const active = after.items.find((k) => k.status === 'active');
        loaded.reload();
        return `Keys rotated.${active ? ` Key ${active.kid} now signs new JWTs.` : ''}`;
      },
      (err) => `The keys were not rotated: ${err.message}`,
      () => setConfirming(false),
    );

  const keys = [...(loaded.data?.items ?? [])].sort((a, b) => ORDER[a.status] - ORDER[b.status] || b.createdAt.localeCompare(a.createdAt));
  return (
    <>
      <PageHeader title="Signing keys">
        <button type="button" className="button button-primary" onClick={() => setConfirming(true)} disabled={!loaded.data}>
          Rotate keys
        </button>
      </PageHeader>
      <p className="lede">
        Keys that sign the JWTs issued by token exchange. Resource servers fetch the public halves from <a href="/.well-known/jwks.json">/.well-known/jwks.json</a>. The
        next key is published before it signs anything, and a retired key stays published until its last JWT has expired.
      </p>
      {actionError && <Alert>{actionError}</Alert>}
      {notice && <Alert kind="success">{notice}</Alert>}
      {loaded.error && <LoadError error={loaded.error} onRetry={loaded.reload} />}
      {loaded.loading && !loaded.data && <Loading label="Loading signing keys…" />}
      {loaded.data && keys.length === 0 && <p className="muted">No signing keys yet. keyfob creates them when it first issues a JWT.</p>}
      {keys.length > 0 && (
        <TableWrap label="Signing keys">
          <table className="admin-table">
            <caption className="visually-hidden">Signing keys</caption>
            <thead>
              <tr>
                <th scope="col">Key id</th>
                <th scope="col">Algorithm</th>
                <th scope="col">Status</th>
                <th scope="col">Created</th>
                <th scope="col">Activated</th>
                <th scope="col">Retired</th>
                <th scope="col">Unpublish at</th>
              </tr>
            </thead>
            <tbody>
              {keys.map((k) => (
                <tr key={k.kid}>
                  <td className="mono nowrap">{k.kid}</td>
                  <td className="mono">{k.alg}</td>
                  <td>
                    <span className={`badge badge-key-${k.status}`}>{k.status}</span>
                  </td>
                  <td>
                    <AbsoluteTime iso={k.createdAt} />
                  </td>
                  <td>
                    <AbsoluteTime iso={k.activatedAt} fallback={k.status === 'next' ? 'not yet' : '—'} />
                  </td>
                  <td>
                    <AbsoluteTime iso={k.retiredAt} />
                  </td>
                  <td>
                    <AbsoluteTime iso={k.unpublishAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <ConfirmDialog open={confirming} title="Rotate the signing keys?" confirmLabel="Rotate keys" busy={busy} onConfirm={() => void rotate()} onCancel={close}>
        <p>
          The next key, already published in the JWKS, starts signing new JWTs; the active key is retired but stays published until the JWTs it signed have expired,
          and a new next key is published. Resource servers that cache the JWKS keep working: no downtime.
        </p>
        <p className="muted small">keyfob refuses while the next key has been published for less time than resource servers may cache the JWKS, and says when to try again.</p>
      </ConfirmDialog>
    </>
  );
}
