import { PageHeader } from '../../components/ui';

export function AdminScopesPage() {
  return <PageHeader title="Scopes" />;
}
