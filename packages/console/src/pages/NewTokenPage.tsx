import { useMemo, useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router';
import { api, ApiError, type CreatedPatDto, type CreatePatInput, type PolicyDto, type ScopeEntryDto } from '../api/client';
import { useAuth } from '../auth';
import { Alert, Field, LoadError, Loading, PageHeader } from '../components/ui';
import { TokenShownOnce } from '../components/TokenShownOnce';
import { DAY_MS, formatDate } from '../format';
import { useDocumentTitle, useLoad } from '../hooks';

type ExpiryChoice = { kind: 'days'; days: number } | { kind: 'custom' } | { kind: 'never' };

function allowsNever(policy: PolicyDto): boolean {
  return !policy.requireExpiry && policy.maxLifetimeDays === null;
}

/** Scopes grouped by resource (the part before the first colon), in catalogue order. */
function groupScopes(scopes: readonly ScopeEntryDto[]): [string, ScopeEntryDto[]][] {
  const groups = new Map<string, ScopeEntryDto[]>();
  for (const s of scopes) {
    const resource = s.name.split(':')[0] ?? s.name;
    groups.set(resource, [...(groups.get(resource) ?? []), s]);
  }
  return [...groups.entries()];
}

export function NewTokenPage() {
  useDocumentTitle('New token');
  const loaded = useLoad(() => Promise.all([api.policy(), api.scopes()]), []);
  const [created, setCreated] = useState<CreatedPatDto | null>(null);
  if (created) {
    return (
      <>
        <PageHeader title="Token created" />
        <TokenShownOnce token={created.token} pat={created.pat} />
        <div className="actions">
          <Link className="button button-primary" to={`/tokens/${created.pat.id}`}>
            Done
          </Link>
          <Link className="button" to="/tokens">
            Back to tokens
          </Link>
        </div>
      </>
    );
  }
  return (
    <>
      <PageHeader title="New personal access token" />
      {loaded.error && <LoadError error={loaded.error} onRetry={loaded.reload} />}
      {!loaded.data && !loaded.error && <Loading />}
      {loaded.data && <NewTokenForm policy={loaded.data[0]} scopes={loaded.data[1].items} onCreated={setCreated} />}
    </>
  );
}

function NewTokenForm({ policy, scopes, onCreated }: { policy: PolicyDto; scopes: ScopeEntryDto[]; onCreated: (c: CreatedPatDto) => void }) {
  const { user } = useAuth();
  const [params] = useSearchParams();
  const isAdmin = user?.role === 'admin';
  const visible = scopes.filter((s) => isAdmin || !s.adminOnly);
  const presets = policy.expiryPresetsDays.filter((d) => policy.maxLifetimeDays === null || d <= policy.maxLifetimeDays);

  const initialExpiry = (): ExpiryChoice => {
    const fromUrl = params.get('expiresInDays');
    if (fromUrl === 'never' && allowsNever(policy)) return { kind: 'never' };
    const days = Number(fromUrl);
    // A link may ask for more than this server's policy allows: then the default applies.
    const withinMax = policy.maxLifetimeDays === null || days <= policy.maxLifetimeDays;
    if (fromUrl && Number.isInteger(days) && days > 0 && withinMax) return { kind: 'days', days };
    if (policy.defaultExpiryDays !== null) return { kind: 'days', days: policy.defaultExpiryDays };
    return allowsNever(policy) ? { kind: 'never' } : { kind: 'days', days: presets[0] ?? 30 };
  };

  const [name, setName] = useState(params.get('name') ?? '');
  const [description, setDescription] = useState(params.get('description') ?? '');
  const [selected, setSelected] = useState<Set<string>>(() => new Set((params.get('scopes') ?? '').split(',').map((s) => s.trim()).filter((s) => visible.some((v) => v.name === s))));
  const [expiry, setExpiry] = useState<ExpiryChoice>(initialExpiry);
  const [customDate, setCustomDate] = useState('');
  const [audiences, setAudiences] = useState('');
  const [allowedIps, setAllowedIps] = useState('');
  const [error, setError] = useState<ApiError | Error | null>(null);
  const [busy, setBusy] = useState(false);

  const dayOptions = useMemo(() => {
    const set = new Set(presets);
    if (expiry.kind === 'days') set.add(expiry.days);
    return [...set].sort((a, b) => a - b);
  }, [presets, expiry]);

  const resulting = expiry.kind === 'never' ? null : expiry.kind === 'days' ? new Date(Date.now() + expiry.days * DAY_MS) : customDate ? new Date(`${customDate}T00:00:00Z`) : undefined;

  const toggle = (scope: string) =>
    setSelected((current) => {
      const next = new Set(current);
      if (next.has(scope)) next.delete(scope);
      else next.add(scope);
      return next;
    });

  const fieldError = (field: string) => (error instanceof ApiError && error.field === field ? error.message : undefined);
  const expiryError = fieldError('expiresInDays') ?? fieldError('expiresAt');

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const lines = (text: string) => text.split(/[\n,]/).map((l) => l.trim()).filter(Boolean);
    const body: CreatePatInput = { name, scopes: [...selected] };
    if (description) body.description = description;
    if (expiry.kind === 'never') body.expiresInDays = null;
    else if (expiry.kind === 'days') body.expiresInDays = expiry.days;
    else if (customDate) body.expiresAt = customDate;
    if (lines(audiences).length > 0) body.audiences = lines(audiences);
    if (lines(allowedIps).length > 0) body.allowedIps = lines(allowedIps);
    try {
      onCreated(await api.createToken(body));
    } catch (e) {
      setError(e instanceof Error ? e : new Error(String(e)));
    } finally {
      setBusy(false);
    }
  };

  const chosenAdmin = [...selected].some((s) => s.startsWith('admin:'));
  return (
    <form className="form form-wide" onSubmit={submit} noValidate>
      {error && !(error instanceof ApiError && error.field) && <Alert>{error.message}</Alert>}
      <Field label="Name" error={fieldError('name')} hint="What the token is for, such as “deploy from CI”.">
        {(props) => <input {...props} name="name" required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />}
      </Field>
      <Field label="Description (optional)" error={fieldError('description')}>
        {(props) => <textarea {...props} name="description" maxLength={500} rows={2} value={description} onChange={(e) => setDescription(e.target.value)} />}
      </Field>
      <Field
        label="Expiration"
        error={expiryError}
        hint={resulting === null ? 'This token will never expire.' : resulting ? `The token will expire on ${formatDate(resulting)}.` : 'Pick a date.'}
      >
        {(props) => (
          <div className="inline">
            <select
              {...props}
              name="expiry"
              value={expiry.kind === 'days' ? String(expiry.days) : expiry.kind}
              onChange={(e) => {
                const v = e.target.value;
                setExpiry(v === 'custom' ? { kind: 'custom' } : v === 'never' ? { kind: 'never' } : { kind: 'days', days: Number(v) });
              }}
            >
              {dayOptions.map((d) => (
                <option key={d} value={d}>
                  {d} days
                </option>
              ))}
              <option value="custom">Custom date…</option>
              {allowsNever(policy) && <option value="never">No expiration</option>}
            </select>
            {expiry.kind === 'custom' && (
              <>
                <label htmlFor="custom-date" className="visually-hidden">
                  Expiration date
                </label>
                <input id="custom-date" type="date" value={customDate} min={new Date(Date.now() + DAY_MS).toISOString().slice(0, 10)} onChange={(e) => setCustomDate(e.target.value)} />
              </>
            )}
          </div>
        )}
      </Field>
      {expiry.kind === 'never' && <Alert kind="warning">Tokens without an expiry stay valid until someone revokes them. Prefer an expiry where you can.</Alert>}

      <fieldset className={`fieldset${fieldError('scopes') ? ' field-invalid' : ''}`} aria-describedby={fieldError('scopes') ? 'scopes-error' : undefined}>
        <legend>Scopes</legend>
        <p className="hint">Choose only what the token needs.</p>
        {groupScopes(visible).map(([resource, entries]) => (
          <div key={resource} className="scope-group">
            <h3>{resource}</h3>
            {entries.map((s) => (
              <label key={s.name} className="checkbox">
                <input type="checkbox" name="scopes" value={s.name} checked={selected.has(s.name)} onChange={() => toggle(s.name)} />
                <span>
                  <span className="mono">{s.name}</span>
                  {s.description && <span className="muted small"> — {s.description}</span>}
                </span>
              </label>
            ))}
          </div>
        ))}
        {fieldError('scopes') && (
          <p className="field-error" id="scopes-error">
            {fieldError('scopes')}
          </p>
        )}
      </fieldset>
      {chosenAdmin && <Alert kind="warning">Admin scopes let this token manage users and every token. They work only while you are an admin.</Alert>}

      <details className="advanced">
        <summary>Advanced: audiences and allowed IP addresses</summary>
        <Field label="Audiences" error={fieldError('audiences')} hint="Resource servers that may accept this token, one per line. Empty: any.">
          {(props) => <textarea {...props} name="audiences" rows={2} value={audiences} onChange={(e) => setAudiences(e.target.value)} />}
        </Field>
        <Field label="Allowed IP addresses" error={fieldError('allowedIps')} hint="Addresses or CIDR ranges, one per line, such as 203.0.113.0/24. Empty: any.">
          {(props) => <textarea {...props} name="allowedIps" rows={2} value={allowedIps} onChange={(e) => setAllowedIps(e.target.value)} />}
        </Field>
      </details>

      <div className="actions">
        <button type="submit" className="button button-primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create token'}
        </button>
        <Link className="button" to="/tokens">
          Cancel
        </Link>
      </div>
    </form>
  );
}
