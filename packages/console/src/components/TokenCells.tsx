import type { PatDto } from '../api/client';
import { Expiry, ScopeChips, StatusBadge, Time } from './ui';

/** The scope, expiry, last-used, created and status cells shared by the token tables. */
export function TokenCells({ pat }: { pat: PatDto }) {
  return (
    <>
      <td>
        <ScopeChips scopes={pat.scopes} />
      </td>
      <td>
        <Expiry iso={pat.expiresAt} status={pat.status} />
      </td>
      <td>
        <Time iso={pat.lastUsedAt} fallback="never" />
        {pat.lastUsedIp && <div className="muted small">from {pat.lastUsedIp}</div>}
      </td>
      <td>
        <Time iso={pat.createdAt} />
      </td>
      <td>
        <StatusBadge status={pat.status} />
      </td>
    </>
  );
}
