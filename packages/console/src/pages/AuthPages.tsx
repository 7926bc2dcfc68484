import { useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router';
import { api, ApiError } from '../api/client';
import { useAuth } from '../auth';
import { Alert, Field } from '../components/ui';
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

export function LoginPage() {
  useDocumentTitle('Sign in');
  const { signedIn, sessionExpired } = useAuth();
  return (
    <main id="main" className="auth-page">
      <div className="card auth-card">
        <h1>Sign in to keyfob</h1>
        {sessionExpired && <Alert kind="warning">Your session has expired. Sign in again to continue.</Alert>}
        <CredentialsForm
          submitLabel="Sign in"
          onSubmit={async (username, password) => {
            // The /login route sends a signed-in user on to the `next` page.
            signedIn(await api.login({ username, password }));
          }}
        />
      </div>
    </main>
  );
}
