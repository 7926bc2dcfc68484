import { useCallback, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { api, type AdminPatDto } from '../../api/client';
import { Alert, ConfirmDialog, Expiry, LoadError, Loading, PageHeader, ScopeChips, Time } from '../../components/ui';
import { useDocumentTitle, useLoad } from '../../hooks';
import { HeadRow, LoadMore, RowButton, TableWrap, useActionStatus, usePaged } from './shared';

/** A choice offered in a select, kept in the URL as `param` (absent = `fallback`). */
interface Choice {
  readonly param: string;
  readonly fallback: string;
  readonly options: readonly (readonly [string, string])[];
}

const WINDOW: Choice = {
  param: 'days',
  fallback: '30',
  options: [
    ['1', 'Today (UTC)'],
    ['7', 'Last 7 days'],
    ['30', 'Last 30 days'],
    ['90', 'Last 90 days'],
  ],
};
const AGE: Choice = {
  param: 'olderThanDays',
  fallback: '7',
  options: [
    ['0', 'At any time'],
    ['7', 'More than 7 days ago'],
    ['30', 'More than 30 days ago'],
    ['90', 'More than 90 days ago'],
  ],
};
const IDLE: Choice = {
  param: 'unusedForDays',
  fallback: '',
  options: [
    ['', 'Never'],
    ['30', 'Not in the last 30 days'],
    ['90', 'Not in the last 90 days'],
  ],
};

/** The chosen value of `choice`, or its fallback when the URL holds none or one not offered. */
function chosen(params: URLSearchParams, choice: Choice): string {
  const value = params.get(choice.param);
  return choice.options.some(([v]) => v === value) ? value! : choice.fallback;
}

const lowerFirst = (text: string) => text.charAt(0).toLowerCase() + text.slice(1);

function labelOf(choice: Choice, value: string): string {
  return choice.options.find(([v]) => v === value)?.[1] ?? value;
}

function ChoiceSelect({ id, label, choice, value, onChange }: { id: string; label: string; choice: Choice; value: string; onChange: (value: string) => void }) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)}>
        {choice.options.map(([v, text]) => (
          <option key={v} value={v}>
            {text}
          </option>
        ))}
      </select>
    </div>
  );
}

function TokenName({ pat }: { pat: AdminPatDto }) {
  return (
    <>
      <Link className="strong" to={`/admin/tokens/${encodeURIComponent(pat.id)}`}>
        {pat.name}
        <span className="visually-hidden"> of {pat.ownerUsername}</span>
      </Link>
      <div className="muted small mono">{pat.displayHint}</div>
    </>
  );
}

/** The last-used, expiry and revoke cells that end a row of either table. */
function RowEnd({ pat, onRevoke }: { pat: AdminPatDto; onRevoke: (pat: AdminPatDto) => void }) {
  return (
    <>
      <td>
        <Time iso={pat.lastUsedAt} fallback="never" />
      </td>
      <td>
        <Expiry iso={pat.expiresAt} status={pat.status} />
      </td>
      <td>
        <RowButton text="Revoke" row={`token ${pat.name} of ${pat.ownerUsername}`} danger onClick={() => onRevoke(pat)} />
      </td>
    </>
  );
}

/**
 * The most used tokens and the ones nobody uses (candidates to revoke), each with a revoke
 * action. Counts are written behind, so a use shows here within a flush interval.
 */
export function AdminUsagePage() {
  useDocumentTitle('Token usage');
  const [params, setParams] = useSearchParams();
  const days = chosen(params, WINDOW);
  const olderThanDays = chosen(params, AGE);
  const unusedForDays = chosen(params, IDLE);

  const mostUsed = useLoad(() => api.admin.mostUsed({ days, limit: 20 }), [days]);
  const unused = usePaged((cursor) => api.admin.neverUsed({ olderThanDays, unusedForDays, cursor, limit: 50 }), [olderThanDays, unusedForDays]);

  const [revoking, setRevoking] = useState<AdminPatDto | null>(null);
  // The section a revocation started from: its row goes away, so focus returns to its heading.
  const [revokingFrom, setRevokingFrom] = useState<'most-used-title' | 'unused-title'>('most-used-title');
  // Rows revoked here leave the most-used table at once, before its reload answers.
  const [revokedIds, setRevokedIds] = useState<ReadonlySet<string>>(new Set());
  const { busy, actionError, notice, run } = useActionStatus();
  const closeRevoke = useCallback(() => setRevoking(null), []);
  const focusSection = useCallback(() => document.getElementById(revokingFrom)?.focus(), [revokingFrom]);

  const choose = (choice: Choice, value: string) =>
    setParams((p) => {
      if (value === choice.fallback) p.delete(choice.param);
      else p.set(choice.param, value);
      return p;
    });

  const revoke = async () => {
    if (!revoking) return;
    const token = revoking;
    await run(
      async () => {
        await api.admin.revokeToken(token.id);
        // Both lists hold active tokens only.
        unused.update((items) => items.filter((t) => t.id !== token.id));
        setRevokedIds((ids) => new Set(ids).add(token.id));
        mostUsed.reload();
        return `Token “${token.name}” of ${token.ownerUsername} was revoked.`;
      },
      (err) => `Token “${token.name}” was not revoked: ${err.message}`,
      closeRevoke,
    );
  };

  const windowLabel = lowerFirst(labelOf(WINDOW, days));
  const ranked = (mostUsed.data?.items ?? []).filter(({ pat }) => !revokedIds.has(pat.id));

  return (
    <>
      <PageHeader title="Token usage" />
      <p className="lede">Which active tokens carry the load, and which nobody uses: those are candidates to revoke. Uses are counted within a few seconds.</p>
      {actionError && <Alert>{actionError}</Alert>}
      {notice && <Alert kind="success">{notice}</Alert>}

      <section className="card" aria-labelledby="most-used-title">
        <h2 id="most-used-title" tabIndex={-1}>
          Most used
        </h2>
        <div className="filters">
          <ChoiceSelect id="usage-window" label="Window" choice={WINDOW} value={days} onChange={(v) => choose(WINDOW, v)} />
        </div>
        {mostUsed.error && <LoadError error={mostUsed.error} onRetry={mostUsed.reload} />}
        {mostUsed.loading && !mostUsed.data && <Loading label="Counting uses…" />}
        {mostUsed.data && ranked.length === 0 && <p className="muted">No active token was used {days === '1' ? 'today' : `in the ${windowLabel}`}.</p>}
        {mostUsed.data && ranked.length > 0 && (
          <TableWrap label="Most used tokens">
            <table className="admin-table" aria-busy={mostUsed.loading}>
              <caption className="visually-hidden">Active tokens by successful uses, {windowLabel}</caption>
              <HeadRow columns={['Rank', 'Name', 'Owner', 'Uses', 'Refused', 'Last used', 'Expires']} actions />
              <tbody>
                {ranked.map(({ pat, uses, failures }, i) => (
                  <tr key={pat.id}>
                    <td>{i + 1}</td>
                    <td>
                      <TokenName pat={pat} />
                    </td>
                    <td>{pat.ownerUsername}</td>
                    <td>{uses.toLocaleString()}</td>
                    <td>{failures > 0 ? failures.toLocaleString() : <span className="muted">0</span>}</td>
                    <RowEnd pat={pat} onRevoke={(p) => { setRevokingFrom('most-used-title'); setRevoking(p); }} />
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        )}
      </section>

      <section className="card" aria-labelledby="unused-title">
        <h2 id="unused-title" tabIndex={-1}>
          Not used
        </h2>
        <div className="filters">
          <ChoiceSelect id="unused-age" label="Created" choice={AGE} value={olderThanDays} onChange={(v) => choose(AGE, v)} />
          <ChoiceSelect id="unused-idle" label="Used" choice={IDLE} value={unusedForDays} onChange={(v) => choose(IDLE, v)} />
        </div>
        {unused.error && <LoadError error={unused.error} onRetry={unused.reload} />}
        {unused.loading && !unused.data && <Loading label="Loading tokens…" />}
        {unused.data && unused.items.length === 0 && <p className="muted">No active token created {lowerFirst(labelOf(AGE, olderThanDays))} is {unusedForDays ? `unused for ${unusedForDays} days` : 'unused'}.</p>}
        {unused.items.length > 0 && (
          <TableWrap label="Tokens not used">
            <table className="admin-table" aria-busy={unused.loading}>
              <caption className="visually-hidden">Active tokens not used, oldest first</caption>
              <HeadRow columns={['Name', 'Owner', 'Scopes', 'Created', 'Last used', 'Expires']} actions />
              <tbody>
                {unused.items.map((pat) => (
                  <tr key={pat.id}>
                    <td>
                      <TokenName pat={pat} />
                    </td>
                    <td>{pat.ownerUsername}</td>
                    <td>
                      <ScopeChips scopes={pat.scopes} />
                    </td>
                    <td>
                      <Time iso={pat.createdAt} />
                    </td>
                    <RowEnd pat={pat} onRevoke={(p) => { setRevokingFrom('unused-title'); setRevoking(p); }} />
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        )}
        <LoadMore list={unused} what="tokens" />
      </section>

      <ConfirmDialog open={revoking !== null} title="Revoke this token?" confirmLabel="Revoke token" danger busy={busy} onConfirm={() => void revoke()} onCancel={closeRevoke} onFocusLost={focusSection}>
        {revoking && <p>Anything using “{revoking.name}” (owned by {revoking.ownerUsername}) will be refused at once. This cannot be undone.</p>}
      </ConfirmDialog>
    </>
  );
}
