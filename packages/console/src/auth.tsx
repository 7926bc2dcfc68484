import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, ApiError, setCsrfToken, setUnauthorizedHandler, type SessionInfo, type UserDto } from './api/client';

interface AuthState {
  /** undefined while loading; null when signed out. */
  readonly user: UserDto | null | undefined;
  readonly setupNeeded: boolean;
  readonly sessionExpired: boolean;
  readonly loadError: string | null;
  signedIn(session: SessionInfo): void;
  signOut(): Promise<void>;
  refreshUser(): Promise<void>;
  retry(): void;
}

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<UserDto | null | undefined>(undefined);
  const [setupNeeded, setSetupNeeded] = useState(false);
  const [sessionExpired, setSessionExpired] = useState(false);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let cancelled = false;
    (async () => {
      try {
        const setup = await api.setupStatus();
        if (cancelled) return;
        setSetupNeeded(setup.needed);
        if (setup.needed) return setUser(null);
        const session = await api.session().catch((e: unknown) => {
          if (e instanceof ApiError && e.status === 401) return null;
          throw e;
        });
        if (cancelled) return;
        setCsrfToken(session?.csrfToken ?? null);
        setUser(session?.user ?? null);
        setLoadError(null);
      } catch (e) {
        if (!cancelled) setLoadError(e instanceof Error ? e.message : 'keyfob could not be reached');
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [attempt]);

  useEffect(() => {
    setUnauthorizedHandler(() => {
      setCsrfToken(null);
      setUser((current) => {
        if (current) setSessionExpired(true);
        return null;
      });
    });
    return () => setUnauthorizedHandler(null);
  }, []);

  const signedIn = useCallback((session: SessionInfo) => {
    setCsrfToken(session.csrfToken);
    setSessionExpired(false);
    setSetupNeeded(false);
    setUser(session.user);
  }, []);

  const signOut = useCallback(async () => {
    await api.logout().catch(() => undefined);
    setCsrfToken(null);
    setSessionExpired(false);
    setUser(null);
  }, []);

  const refreshUser = useCallback(async () => {
    setUser(await api.me());
  }, []);

  const value = useMemo<AuthState>(
    () => ({ user, setupNeeded, sessionExpired, loadError, signedIn, signOut, refreshUser, retry: () => setAttempt((n) => n + 1) }),
    [user, setupNeeded, sessionExpired, loadError, signedIn, signOut, refreshUser],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const value = useContext(AuthContext);
  if (!value) throw new Error('useAuth outside AuthProvider');
  return value;
}
