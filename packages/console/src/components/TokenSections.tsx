import type { ReactNode } from 'react';
import type { TokenAddress, UsageSeries } from '@keyfob/protocol';
import type { AuditEventDto, PatDto } from '../api/client';
import { Expiry, ScopeChips, StatusBadge, Time } from './ui';
import { UsageChart } from './UsageChart';

/** The facts of one token, shared by its owner's page and the admin's; `extra` adds rows (the owner, for admins). */
export function TokenFacts({ pat, extra }: { pat: PatDto; extra?: ReactNode }) {
  return (
    <section className="card" aria-labelledby="meta-title">
      <h2 id="meta-title">Details</h2>
      <dl className="meta">
        {extra}
        <dt>Status</dt>
        <dd>
          <StatusBadge status={pat.status} />
        </dd>
        <dt>Token</dt>
        <dd className="mono">{pat.displayHint}</dd>
        <dt>Scopes</dt>
        <dd>
          <ScopeChips scopes={pat.scopes} />
        </dd>
        <dt>Expires</dt>
        <dd>
          <Expiry iso={pat.expiresAt} status={pat.status} />
        </dd>
        <dt>Last used</dt>
        <dd>
          <Time iso={pat.lastUsedAt} fallback="never" />
          {pat.lastUsedIp && <span className="muted small"> from {pat.lastUsedIp}</span>}
        </dd>
        <dt>Created</dt>
        <dd>
          <Time iso={pat.createdAt} />
        </dd>
        {pat.revokedAt && (
          <>
            <dt>Revoked</dt>
            <dd>
              <Time iso={pat.revokedAt} />
            </dd>
          </>
        )}
        <dt>Audiences</dt>
        <dd>{pat.audiences.length > 0 ? pat.audiences.join(', ') : <span className="muted">any</span>}</dd>
        <dt>Allowed IPs</dt>
        <dd>{pat.allowedIps.length > 0 ? pat.allowedIps.join(', ') : <span className="muted">any</span>}</dd>
      </dl>
    </section>
  );
}

/** Use over the last 30 days and the addresses it came from. */
export function TokenUse({ usage, addresses }: { usage: UsageSeries; addresses: readonly TokenAddress[] }) {
  return (
    <section className="card" aria-labelledby="usage-title">
      <h2 id="usage-title">Use over the last 30 days</h2>
      <UsageChart series={usage} />
      <h3 id="addresses-title">Recent addresses</h3>
      {addresses.length === 0 ? (
        <p className="muted">Not used yet.</p>
      ) : (
        <ul className="events" aria-labelledby="addresses-title">
          {addresses.map((a) => (
            <li key={a.ip}>
              <span className="mono">{a.ip}</span> <span className="muted small">last <Time iso={a.lastSeenAt} />, {a.uses} {a.uses === 1 ? 'use' : 'uses'}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** The token's audit events, newest first. */
export function TokenEvents({ events }: { events: readonly Pick<AuditEventDto, 'id' | 'action' | 'createdAt' | 'ip'>[] }) {
  return (
    <section className="card" aria-labelledby="events-title">
      <h2 id="events-title">Activity</h2>
      {events.length === 0 ? (
        <p className="muted">No recorded activity.</p>
      ) : (
        <ul className="events">
          {events.map((e) => (
            <li key={e.id}>
              <span className="mono">{e.action}</span> <Time iso={e.createdAt} />
              {e.ip && <span className="muted small"> from {e.ip}</span>}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
