import { Link, NavLink, Outlet } from 'react-router';
import { useAuth } from '../auth';

const ADMIN_LINKS: [string, string][] = [
  ['/admin/users', 'Users'],
  ['/admin/tokens', 'All tokens'],
  ['/admin/usage', 'Usage'],
  ['/admin/policy', 'Policy'],
  ['/admin/scopes', 'Scopes'],
  ['/admin/clients', 'OAuth clients'],
  ['/admin/signing-keys', 'Signing keys'],
  ['/admin/webhooks', 'Webhooks'],
  ['/admin/audit', 'Audit log'],
];

export function Layout() {
  const { user, signOut } = useAuth();
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link className="brand" to="/tokens">
          <svg className="brand-mark" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
            <circle cx="8" cy="12" r="4.5" fill="none" stroke="currentColor" strokeWidth="2.2" />
            <path d="M12.5 12h9M18 12v3.5M21 12v2.5" fill="none" stroke="currentColor" strokeWidth="2.2" strokeLinecap="round" />
          </svg>
          keyfob
        </Link>
        <nav aria-label="Main">
          <ul className="nav">
            <li>
              <NavLink to="/tokens">Access tokens</NavLink>
            </li>
            <li>
              <NavLink to="/profile">Profile</NavLink>
            </li>
          </ul>
        </nav>
        <div className="user-menu">
          <span className="muted small">{user?.displayName}</span>
          <button type="button" className="button button-small" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <div className="body">
        {user?.role === 'admin' && (
          <nav aria-label="Administration" className="sidenav">
            <h2 className="sidenav-title">Admin</h2>
            <ul>
              {ADMIN_LINKS.map(([to, label]) => (
                <li key={to}>
                  <NavLink to={to}>{label}</NavLink>
                </li>
              ))}
            </ul>
          </nav>
        )}
        <main id="main" tabIndex={-1}>
          <Outlet />
        </main>
      </div>
    </div>
  );
}
