import { useState, type FormEvent } from 'react';
import { api, ApiError, type UserDto } from '../api/client';
import { useAuth } from '../auth';
import { Alert, Field, PageHeader } from '../components/ui';
import { useDocumentTitle } from '../hooks';

const NOTICE_LABELS: [keyof UserDto['notifications'], string][] = [
  ['tokenCreated', 'A token is created'],
  ['tokenExpiring', 'A token is about to expire'],
  ['tokenRevoked', 'A token is revoked by an admin or a leak report'],
  ['newIpUse', 'A token is used from a new IP address'],
];

export function ProfilePage() {
  useDocumentTitle('Profile');
  const { user, refreshUser } = useAuth();
  const [displayName, setDisplayName] = useState(user?.displayName ?? '');
  const [email, setEmail] = useState(user?.email ?? '');
  const [notifications, setNotifications] = useState(user?.notifications);
  const [currentPassword, setCurrentPassword] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<ApiError | Error | null>(null);
  const [saved, setSaved] = useState(false);
  if (!user || !notifications) return null;

  const save = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    setSaved(false);
    try {
      await api.updateMe({ displayName, email: email || null, notifications, ...(password ? { password, currentPassword } : {}) });
      setPassword('');
      setCurrentPassword('');
      setSaved(true);
      await refreshUser();
    } catch (e) {
      setError(e instanceof Error ? e : new Error(String(e)));
    }
  };
  const fieldError = (f: string) => (error instanceof ApiError && error.field === f ? error.message : undefined);
  return (
    <>
      <PageHeader title="Profile" />
      <form className="form" onSubmit={save} noValidate>
        {error && !(error instanceof ApiError && error.field) && <Alert>{error.message}</Alert>}
        {saved && <Alert kind="success">Profile saved.</Alert>}
        <p>
          Signed in as <strong>{user.username}</strong> ({user.role}).
        </p>
        <Field label="Display name" error={fieldError('displayName')}>
          {(props) => <input {...props} name="displayName" value={displayName} onChange={(e) => setDisplayName(e.target.value)} />}
        </Field>
        <Field label="Email" error={fieldError('email')}>
          {(props) => <input {...props} name="email" type="email" autoComplete="email" value={email} onChange={(e) => setEmail(e.target.value)} />}
        </Field>
        <fieldset className="fieldset">
          <legend>Tell me when</legend>
          {NOTICE_LABELS.map(([key, label]) => (
            <label key={key} className="checkbox">
              <input type="checkbox" checked={notifications[key]} onChange={(e) => setNotifications({ ...notifications, [key]: e.target.checked })} />
              <span>{label}</span>
            </label>
          ))}
        </fieldset>
        <fieldset className="fieldset">
          <legend>Change password</legend>
          <Field label="Current password" error={fieldError('currentPassword')}>
            {(props) => <input {...props} type="password" autoComplete="current-password" value={currentPassword} onChange={(e) => setCurrentPassword(e.target.value)} />}
          </Field>
          <Field label="New password" error={fieldError('password')} hint="At least 8 characters.">
            {(props) => <input {...props} type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />}
          </Field>
        </fieldset>
        <button type="submit" className="button button-primary">
          Save
        </button>
      </form>
    </>
  );
}
