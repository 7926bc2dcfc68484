import { useEffect, useState, type FormEvent } from 'react';
import { useNavigate, useSearchParams } from 'react-router';
import { api, ApiError, type SignInOptionsDto } from '../api/client';
import { useAuth } from '../auth';
import { Alert, Field, Loading } from '../components/ui';
import { useDocumentTitle } from '../hooks';

function CredentialsForm({ submitLabel, onSubmit, minPassword }: { submitLabel: string; minPassword?: number; onSubmit: (username: string, password: string) => Promise<void> }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<ApiError | Error | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onSubmit(username, password);
    } catch (e) {
      setError(e instanceof Error ? e : new Error(String(e)));
    } finally {
      setBusy(false);
    }
  };
  const fieldError = (name: string) => (error instanceof ApiError && error.field === name ? error.message : undefined);
  return (
    <form onSubmit={submit} noValidate className="form">
      {error && !(error instanceof ApiError && error.field) && <Alert>{error.message}</Alert>}
      <Field label="Username" error={fieldError('username')}>
        {(props) => <input {...props} name="username" autoComplete="username" required value={username} onChange={(e) => setUsername(e.target.value)} />}
      </Field>
      <Field label="Password" error={fieldError('password')} hint={minPassword ? `At least ${minPassword} characters.` : undefined}>
        {(props) => <input {...props} name="password" type="password" autoComplete={minPassword ? 'new-password' : 'current-password'} required value={password} onChange={(e) => setPassword(e.target.value)} />}
      </Field>
      <button type="submit" className="button button-primary" disabled={busy}>
        {busy ? 'Please wait…' : submitLabel}
      </button>
    </form>
  );
}

export function SetupPage() {
  useDocumentTitle('Set up keyfob');
  const { signedIn } = useAuth();
  const navigate = useNavigate();
  return (
    <main id="main" className="auth-page">
      <div className="card auth-card">
        <h1>Welcome to keyfob</h1>
        <p>Create the first administrator account. Everyone else can be invited from the admin pages afterwards.</p>
        <CredentialsForm
          submitLabel="Create admin account"
          minPassword={8}
          onSubmit={async (username, password) => {
            signedIn(await api.setup({ username, password }));
            navigate('/tokens', { replace: true });
          }}
        />
      </div>
    </main>
  );
}

/** What the codes keyfob's sign-in redirects with (`/login?error=<code>`, docs/errors.md) mean to a person. */
const SIGN_IN_ERRORS: Readonly<Record<string, string>> = {
  oidc_state_mismatch: 'That sign-in could not be matched to this browser, or took too long. Please start again.',
  oidc_nonce_mismatch: 'The identity provider’s answer did not belong to this sign-in. Please start again.',
  oidc_denied: 'The sign-in was cancelled or refused at the identity provider.',
  oidc_email_not_allowed: 'Your account’s email address is not in a domain that may sign in here.',
  oidc_account_disabled: 'Your keyfob account is disabled. Ask an administrator to enable it.',
  oidc_setup_needed: 'keyfob is not set up yet. An administrator must finish setup before anyone signs in.',
  oidc_provider_error: 'The identity provider could not be reached, or its answer could not be accepted. Please try again later.',
  oidc_unknown_provider: 'That sign-in option is not available.',
  store_unavailable: 'keyfob is temporarily unavailable. Please try again in a moment.',
};

/** A provider's start URL that brings the person back to `next` (a path on this site) once signed in. */
function startUrlFor(startUrl: string, next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/login') ? `${startUrl}?next=${encodeURIComponent(next)}` : startUrl;
}

export function LoginPage() {
  useDocumentTitle('Sign in');
  const { signedIn, sessionExpired } = useAuth();
  const [params] = useSearchParams();
  const error = params.get('error');
  const [options, setOptions] = useState<SignInOptionsDto | null>(null);
  useEffect(() => {
    let cancelled = false;
    // Without the list (an older server, a hiccup) the password form is still offered.
    api.signInOptions().then(
      (o) => !cancelled && setOptions(o),
      () => !cancelled && setOptions({ passwordLogin: true, providers: [] }),
    );
    return () => {
      cancelled = true;
    };
  }, []);
  return (
    <main id="main" className="auth-page">
      <div className="card auth-card">
        <h1>Sign in to keyfob</h1>
        {sessionExpired && <Alert kind="warning">Your session has expired. Sign in again to continue.</Alert>}
        {error && <Alert>{SIGN_IN_ERRORS[error] ?? 'Signing in failed. Please try again.'}</Alert>}
        {options === null ? (
          <Loading />
        ) : (
          <>
            {options.providers.length > 0 && (
              <ul className="sign-in-providers" aria-label="Single sign-on">
                {options.providers.map((p) => (
                  <li key={p.id}>
                    <a className="button button-block" href={startUrlFor(p.startUrl, params.get('next'))}>
                      Sign in with {p.label}
                    </a>
                  </li>
                ))}
              </ul>
            )}
            {options.providers.length > 0 && options.passwordLogin && (
              <p className="auth-divider">
                <span>or with your keyfob password</span>
              </p>
            )}
            {options.passwordLogin && (
              <CredentialsForm
                submitLabel="Sign in"
                onSubmit={async (username, password) => {
                  // The /login route sends a signed-in user on to the `next` page.
                  signedIn(await api.login({ username, password }));
                }}
              />
            )}
          </>
        )}
      </div>
    </main>
  );
}
