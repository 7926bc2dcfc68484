import { useState } from 'react';
import { TokenCells } from '../components/TokenCells';
import { Link, useSearchParams } from 'react-router';
import { api, type PatDto } from '../api/client';
import { EmptyState, LoadError, Loading, PageHeader } from '../components/ui';
import { useDocumentTitle, useLoad } from '../hooks';

const TABS = [
  ['active', 'Active'],
  ['expired', 'Expired'],
  ['revoked', 'Revoked'],
] as const;

export function TokensPage() {
  useDocumentTitle('Access tokens');
  const [params, setParams] = useSearchParams();
  const status = (params.get('status') ?? 'active') as (typeof TABS)[number][0];
  const q = params.get('q') ?? '';
  const [search, setSearch] = useState(q);
  const [pages, setPages] = useState<PatDto[][]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const loaded = useLoad(async () => {
    const page = await api.myTokens({ status, q, limit: 50 });
    setPages([page.items]);
    setCursor(page.nextCursor);
    return page;
  }, [status, q]);
  const [moreError, setMoreError] = useState<string | null>(null);

  const loadMore = async () => {
    if (!cursor) return;
    try {
      const page = await api.myTokens({ status, q, cursor, limit: 50 });
      setPages((p) => [...p, page.items]);
      setCursor(page.nextCursor);
    } catch (e) {
      setMoreError((e as Error).message);
    }
  };
  const tokens = pages.flat();

  return (
    <>
      <PageHeader title="Access tokens">
        <Link className="button button-primary" to="/tokens/new">
          New token
        </Link>
      </PageHeader>
      <p className="lede">Personal access tokens let scripts and CI act as you. Each token is shown once, when it is created.</p>
      <div className="toolbar">
        <div role="tablist" aria-label="Token status" className="tabs">
          {TABS.map(([value, label]) => (
            <button
              key={value}
              role="tab"
              type="button"
              aria-selected={status === value}
              className={status === value ? 'tab tab-active' : 'tab'}
              onClick={() => setParams((p) => {
                p.set('status', value);
                return p;
              })}
            >
              {label}
            </button>
          ))}
        </div>
        <form
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            setParams((p) => {
              if (search) p.set('q', search);
              else p.delete('q');
              return p;
            });
          }}
        >
          <label htmlFor="token-search" className="visually-hidden">
            Search tokens by name
          </label>
          <input id="token-search" type="search" placeholder="Search by name" value={search} onChange={(e) => setSearch(e.target.value)} />
        </form>
      </div>
      {loaded.error && <LoadError error={loaded.error} onRetry={loaded.reload} />}
      {loaded.loading && !loaded.data && <Loading label="Loading tokens…" />}
      {loaded.data && tokens.length === 0 && (q || status !== 'active' ? <p className="muted">No {status} tokens{q ? ` matching “${q}”` : ''}.</p> : <IntroEmptyState />)}
      {tokens.length > 0 && (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Your {status} tokens</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Scopes</th>
                <th scope="col">Expires</th>
                <th scope="col">Last used</th>
                <th scope="col">Created</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {tokens.map((t) => (
                <tr key={t.id}>
                  <td>
                    <Link to={`/tokens/${t.id}`}>{t.name}</Link>
                    <div className="muted small mono">{t.displayHint}</div>
                  </td>
                  <TokenCells pat={t} />
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {moreError && <p className="field-error">{moreError}</p>}
      {cursor && (
        <button type="button" className="button" onClick={() => void loadMore()}>
          Load more
        </button>
      )}
    </>
  );
}

function IntroEmptyState() {
  const origin = window.location.origin;
  return (
    <EmptyState title="No tokens yet">
      <p>
        A personal access token is a password for programs: a script or CI job sends it in the <code>Authorization</code> header and acts as you, limited to
        the scopes you choose and until the expiry you set. You can revoke it at any time.
      </p>
      <pre className="code">
        <code>{`curl -H "Authorization: Bearer $KEYFOB_TOKEN" ${origin}/api/v1/tokens/self`}</code>
      </pre>
      <Link className="button button-primary" to="/tokens/new">
        Create your first token
      </Link>
    </EmptyState>
  );
}
