import type { PatDto } from '../api/client';
import { Alert, SecretBox } from './ui';

/** The plaintext token with copy button, the warning, and ready-to-paste examples. */
export function TokenShownOnce({ token, pat }: { token: string; pat: PatDto }) {
  const origin = window.location.origin;
  return (
    <section className="card shown-once" aria-label="Your new token">
      <Alert kind="success">
        <strong>Copy your token now.</strong> It will not be shown again: keyfob keeps only a hash of it.
      </Alert>
      <SecretBox value={token} label="Token" />
      <h2>Use it</h2>
      <p className="muted small">With curl:</p>
      <pre className="code">
        <code>{`curl -H "Authorization: Bearer ${token}" ${origin}/api/v1/tokens/self`}</code>
      </pre>
      <p className="muted small">As an environment variable, for scripts and CI secrets:</p>
      <pre className="code">
        <code>{`export KEYFOB_TOKEN=${token}`}</code>
      </pre>
      <p className="muted small">
        Token “{pat.name}” ({pat.displayHint}).
      </p>
    </section>
  );
}
