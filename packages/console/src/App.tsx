import type { ReactNode } from 'react';
import { BrowserRouter, Navigate, Route, Routes, useLocation } from 'react-router';
import { AuthProvider, useAuth } from './auth';
import { Layout } from './components/Layout';
import { Alert, Loading } from './components/ui';
import { LoginPage, SetupPage } from './pages/AuthPages';
import { NewTokenPage } from './pages/NewTokenPage';
import { ProfilePage } from './pages/ProfilePage';
import { TokenDetailPage } from './pages/TokenDetailPage';
import { TokensPage } from './pages/TokensPage';
import { AdminAuditPage, AdminClientsPage, AdminPolicyPage, AdminScopesPage, AdminSigningKeysPage, AdminTokenPage, AdminTokensPage, AdminUsagePage, AdminUsersPage, AdminWebhookDeliveriesPage, AdminWebhooksPage } from './pages/admin';

function RequireUser({ children }: { children: ReactNode }) {
  const { user, setupNeeded } = useAuth();
  const location = useLocation();
  if (setupNeeded) return <Navigate to="/setup" replace />;
  if (user === null) return <Navigate to={`/login?next=${encodeURIComponent(location.pathname + location.search)}`} replace />;
  return <>{children}</>;
}

function RequireAdmin({ children }: { children: ReactNode }) {
  const { user } = useAuth();
  if (user?.role !== 'admin') return <Alert>This page is for administrators.</Alert>;
  return <>{children}</>;
}

/** Where to go after signing in: the `next` page if it is a path on this site, else the token list. */
function safeNext(): string {
  const next = new URLSearchParams(window.location.search).get('next');
  return next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/login') ? next : '/tokens';
}

function Routed() {
  const { user, setupNeeded, loadError, retry } = useAuth();
  if (loadError) {
    return (
      <main id="main" className="auth-page">
        <Alert onRetry={retry}>
          <strong>keyfob could not be reached.</strong> {loadError}
        </Alert>
      </main>
    );
  }
  if (user === undefined && !setupNeeded) {
    return (
      <main id="main" className="auth-page">
        <Loading />
      </main>
    );
  }
  const admin = (page: ReactNode) => <RequireAdmin>{page}</RequireAdmin>;
  return (
    <Routes>
      <Route path="/setup" element={setupNeeded ? <SetupPage /> : <Navigate to="/tokens" replace />} />
      <Route path="/login" element={user ? <Navigate to={safeNext()} replace /> : setupNeeded ? <Navigate to="/setup" replace /> : <LoginPage />} />
      <Route
        element={
          <RequireUser>
            <Layout />
          </RequireUser>
        }
      >
        <Route path="/tokens" element={<TokensPage />} />
        <Route path="/tokens/new" element={<NewTokenPage />} />
        <Route path="/tokens/:id" element={<TokenDetailPage />} />
        <Route path="/profile" element={<ProfilePage />} />
        <Route path="/admin/users" element={admin(<AdminUsersPage />)} />
        <Route path="/admin/tokens" element={admin(<AdminTokensPage />)} />
        <Route path="/admin/tokens/:id" element={admin(<AdminTokenPage />)} />
        <Route path="/admin/usage" element={admin(<AdminUsagePage />)} />
        <Route path="/admin/policy" element={admin(<AdminPolicyPage />)} />
        <Route path="/admin/scopes" element={admin(<AdminScopesPage />)} />
        <Route path="/admin/clients" element={admin(<AdminClientsPage />)} />
        <Route path="/admin/signing-keys" element={admin(<AdminSigningKeysPage />)} />
        <Route path="/admin/audit" element={admin(<AdminAuditPage />)} />
        <Route path="/admin/webhooks" element={admin(<AdminWebhooksPage />)} />
        <Route path="/admin/webhooks/:id" element={admin(<AdminWebhookDeliveriesPage />)} />
        <Route path="/admin" element={<Navigate to="/admin/users" replace />} />
      </Route>
      <Route path="*" element={<Navigate to="/tokens" replace />} />
    </Routes>
  );
}

export function App() {
  return (
    <BrowserRouter>
      <AuthProvider>
        <Routed />
      </AuthProvider>
    </BrowserRouter>
  );
}
