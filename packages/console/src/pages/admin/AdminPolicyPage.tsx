import { useState, type FormEvent } from 'react';
import { api, ApiError, type PolicyDto } from '../../api/client';
import { Alert, Field, LoadError, Loading, PageHeader } from '../../components/ui';
import { useDocumentTitle, useLoad } from '../../hooks';
import { asError, fieldMessage } from './shared';

type FieldName = keyof PolicyDto;
const FIELDS: readonly FieldName[] = ['maxLifetimeDays', 'requireExpiry', 'expiryPresetsDays', 'defaultExpiryDays', 'maxTokensPerUser', 'rotationGraceSeconds', 'exchangedTokenTtlSeconds', 'idleRevokeDays', 'idleWarningDays'];

interface FormState {
  maxLifetimeDays: string;
  requireExpiry: boolean;
  expiryPresetsDays: string;
  defaultExpiryDays: string;
  maxTokensPerUser: string;
  rotationGraceSeconds: string;
  exchangedTokenTtlSeconds: string;
  idleRevokeDays: string;
  idleWarningDays: string;
}

const text = (n: number | null) => (n === null ? '' : String(n));

function toForm(p: PolicyDto): FormState {
  return {
    maxLifetimeDays: text(p.maxLifetimeDays),
    requireExpiry: p.requireExpiry,
    expiryPresetsDays: p.expiryPresetsDays.join(', '),
    defaultExpiryDays: text(p.defaultExpiryDays),
    maxTokensPerUser: text(p.maxTokensPerUser),
    rotationGraceSeconds: String(p.rotationGraceSeconds),
    exchangedTokenTtlSeconds: String(p.exchangedTokenTtlSeconds),
    idleRevokeDays: text(p.idleRevokeDays),
    idleWarningDays: String(p.idleWarningDays),
  };
}

/** Whole numbers within bounds, checked here so mistakes show beside the field before a round trip. */
function parseForm(f: FormState): { policy: PolicyDto } | { errors: Partial<Record<FieldName, string>> } {
  const errors: Partial<Record<FieldName, string>> = {};
  const int = (field: FieldName, value: string, min: number, max: number, optional: boolean): number | null => {
    const v = value.trim();
    if (v === '') {
      if (!optional) errors[field] = 'Enter a number.';
      return null;
    }
    if (!/^\d+$/.test(v)) {
      errors[field] = 'Enter a whole number.';
      return null;
    }
    const n = Number(v);
    if (n < min || n > max) errors[field] = `Enter a number from ${min} to ${max}.`;
    return n;
  };
  const presets: number[] = [];
  for (const part of f.expiryPresetsDays.split(',').map((s) => s.trim()).filter(Boolean)) {
    const n = /^\d+$/.test(part) ? Number(part) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > 36500) {
      errors.expiryPresetsDays = `“${part}” is not a number of days from 1 to 36500.`;
      break;
    }
    presets.push(n);
  }
  if (presets.length > 20) errors.expiryPresetsDays = 'Give at most 20 presets.';
  const policy: PolicyDto = {
    maxLifetimeDays: int('maxLifetimeDays', f.maxLifetimeDays, 1, 36500, true),
    requireExpiry: f.requireExpiry,
    expiryPresetsDays: [...new Set(presets)].sort((a, b) => a - b),
    defaultExpiryDays: int('defaultExpiryDays', f.defaultExpiryDays, 1, 36500, true),
    maxTokensPerUser: int('maxTokensPerUser', f.maxTokensPerUser, 1, 100000, true),
    rotationGraceSeconds: int('rotationGraceSeconds', f.rotationGraceSeconds, 0, 2592000, false) ?? 0,
    exchangedTokenTtlSeconds: int('exchangedTokenTtlSeconds', f.exchangedTokenTtlSeconds, 30, 86400, false) ?? 900,
    idleRevokeDays: int('idleRevokeDays', f.idleRevokeDays, 2, 3650, true),
    idleWarningDays: int('idleWarningDays', f.idleWarningDays, 1, 365, false) ?? 7,
  };
  if (policy.idleRevokeDays !== null && !errors.idleWarningDays && policy.idleWarningDays >= policy.idleRevokeDays) errors.idleWarningDays = 'Warn fewer days ahead than the idle period.';
  return Object.keys(errors).length > 0 ? { errors } : { policy };
}

export function AdminPolicyPage() {
  useDocumentTitle('Token policy');
  const loaded = useLoad(() => api.admin.policy(), []);
  return (
    <>
      <PageHeader title="Token policy" />
      <p className="lede">Rules for tokens people create. A change applies to tokens created from now on; existing tokens keep the expiry they were given.</p>
      {loaded.error && <LoadError error={loaded.error} onRetry={loaded.reload} />}
      {loaded.loading && !loaded.data && <Loading label="Loading the policy…" />}
      {loaded.data && <PolicyForm initial={loaded.data} />}
    </>
  );
}

function PolicyForm({ initial }: { initial: PolicyDto }) {
  const [baseline, setBaseline] = useState(initial);
  const [form, setForm] = useState<FormState>(() => toForm(initial));
  const [localErrors, setLocalErrors] = useState<Partial<Record<FieldName, string>>>({});
  const [apiError, setApiError] = useState<Error | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);

  const set = <K extends keyof FormState>(key: K, value: FormState[K]) => {
    setForm((f) => ({ ...f, [key]: value }));
    setSaved(false);
  };
  const errorOf = (field: FieldName) => localErrors[field] ?? fieldMessage(apiError, field);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSaved(false);
    setApiError(null);
    const parsed = parseForm(form);
    if ('errors' in parsed) {
      setLocalErrors(parsed.errors);
      focusFirstInvalid(parsed.errors);
      return;
    }
    setLocalErrors({});
    setBusy(true);
    try {
      const policy = await api.admin.updatePolicy(parsed.policy);
      setBaseline(policy);
      setForm(toForm(policy));
      setSaved(true);
    } catch (e) {
      const err = asError(e);
      setApiError(err);
      if (err instanceof ApiError && err.field) focusFirstInvalid({ [err.field]: err.message });
    } finally {
      setBusy(false);
    }
  };

  const general = apiError && !(apiError instanceof ApiError && apiError.field && (FIELDS as readonly string[]).includes(apiError.field)) ? apiError : null;
  const neverAllowed = !form.requireExpiry && form.maxLifetimeDays.trim() === '';

  return (
    <form className="form form-wide card" onSubmit={submit} noValidate aria-label="Token policy">
      {general && <Alert>{general.message}</Alert>}
      {saved && <Alert kind="success">Policy saved. It applies to tokens created from now on.</Alert>}

      <fieldset className="fieldset">
        <legend>Expiry</legend>
        <div className="fieldset-body">
          <Field id="policy-maxLifetimeDays" label="Maximum lifetime (days)" error={errorOf('maxLifetimeDays')} hint="Empty: no maximum. Lowering it does not shorten tokens that already exist.">
            {(props) => <input {...props} name="maxLifetimeDays" inputMode="numeric" className="input-number" value={form.maxLifetimeDays} onChange={(e) => set('maxLifetimeDays', e.target.value)} />}
          </Field>
          <div className={`field${errorOf('requireExpiry') ? ' field-invalid' : ''}`}>
            <label className="checkbox" htmlFor="policy-requireExpiry">
              <input id="policy-requireExpiry" type="checkbox" name="requireExpiry" checked={form.requireExpiry} onChange={(e) => set('requireExpiry', e.target.checked)} aria-describedby="policy-requireExpiry-hint" />
              <span>Require an expiry on every token</span>
            </label>
            <p className="hint" id="policy-requireExpiry-hint">
              {neverAllowed ? 'Unchecked and with no maximum lifetime, people may create tokens that never expire.' : 'Tokens that never expire cannot be created under these settings.'}
            </p>
            {errorOf('requireExpiry') && <p className="field-error">{errorOf('requireExpiry')}</p>}
          </div>
          <Field id="policy-expiryPresetsDays" label="Expiry choices (days)" error={errorOf('expiryPresetsDays')} hint="Comma-separated, such as 7, 30, 90, 365. Offered in the new token form.">
            {(props) => <input {...props} name="expiryPresetsDays" value={form.expiryPresetsDays} onChange={(e) => set('expiryPresetsDays', e.target.value)} />}
          </Field>
          <Field id="policy-defaultExpiryDays" label="Default expiry (days)" error={errorOf('defaultExpiryDays')} hint="Pre-selected in the new token form. Required while an expiry is required or a maximum is set.">
            {(props) => <input {...props} name="defaultExpiryDays" inputMode="numeric" className="input-number" value={form.defaultExpiryDays} onChange={(e) => set('defaultExpiryDays', e.target.value)} />}
          </Field>
        </div>
      </fieldset>

      <fieldset className="fieldset">
        <legend>Limits</legend>
        <div className="fieldset-body">
          <Field id="policy-maxTokensPerUser" label="Maximum tokens per user" error={errorOf('maxTokensPerUser')} hint="Counts tokens that are neither expired nor revoked. Empty: unlimited.">
            {(props) => <input {...props} name="maxTokensPerUser" inputMode="numeric" className="input-number" value={form.maxTokensPerUser} onChange={(e) => set('maxTokensPerUser', e.target.value)} />}
          </Field>
          <Field id="policy-rotationGraceSeconds" label="Rotation grace period (seconds)" error={errorOf('rotationGraceSeconds')} hint="How long the old secret keeps working after a token is regenerated. 0: it stops at once.">
            {(props) => <input {...props} name="rotationGraceSeconds" inputMode="numeric" className="input-number" value={form.rotationGraceSeconds} onChange={(e) => set('rotationGraceSeconds', e.target.value)} />}
          </Field>
          <Field id="policy-exchangedTokenTtlSeconds" label="Exchanged token lifetime (seconds)" error={errorOf('exchangedTokenTtlSeconds')} hint="Lifetime of JWTs issued by token exchange, 30 to 86400; never past the token’s own expiry.">
            {(props) => <input {...props} name="exchangedTokenTtlSeconds" inputMode="numeric" className="input-number" value={form.exchangedTokenTtlSeconds} onChange={(e) => set('exchangedTokenTtlSeconds', e.target.value)} />}
          </Field>
        </div>
      </fieldset>

      <fieldset className="fieldset">
        <legend>Unused tokens</legend>
        <div className="fieldset-body">
          <Field id="policy-idleRevokeDays" label="Revoke tokens unused for (days)" error={errorOf('idleRevokeDays')} hint="A token neither used nor created for this long is revoked, existing tokens included. Empty: never.">
            {(props) => <input {...props} name="idleRevokeDays" inputMode="numeric" className="input-number" value={form.idleRevokeDays} onChange={(e) => set('idleRevokeDays', e.target.value)} />}
          </Field>
          <Field id="policy-idleWarningDays" label="Warn the owner ahead (days)" error={errorOf('idleWarningDays')} hint="The owner gets an email and webhooks a token.idle event this many days before; nothing is revoked before a warning has stood this long.">
            {(props) => <input {...props} name="idleWarningDays" inputMode="numeric" className="input-number" value={form.idleWarningDays} onChange={(e) => set('idleWarningDays', e.target.value)} />}
          </Field>
        </div>
      </fieldset>

      <Alert kind="info">Expiry rules apply to new tokens only; the unused-token rule applies to every token. To cut existing tokens short, revoke them under All tokens.</Alert>
      <div className="actions">
        <button type="submit" className="button button-primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save policy'}
        </button>
        <button
          type="button"
          className="button"
          onClick={() => {
            setForm(toForm(baseline));
            setLocalErrors({});
            setApiError(null);
            setSaved(false);
          }}
        >
          Reset
        </button>
      </div>
    </form>
  );
}

function focusFirstInvalid(errors: Partial<Record<string, string>>) {
  const first = FIELDS.find((f) => errors[f]);
  if (first) window.setTimeout(() => document.getElementById(`policy-${first}`)?.focus(), 0);
}
