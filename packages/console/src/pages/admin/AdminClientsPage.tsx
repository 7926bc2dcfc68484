import { PageHeader } from '../../components/ui';

export function AdminClientsPage() {
  return <PageHeader title="Clients" />;
}
