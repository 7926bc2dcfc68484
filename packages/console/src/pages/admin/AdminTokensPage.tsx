import { PageHeader } from '../../components/ui';

export function AdminTokensPage() {
  return <PageHeader title="Tokens" />;
}
