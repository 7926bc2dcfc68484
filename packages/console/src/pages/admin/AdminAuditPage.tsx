import { PageHeader } from '../../components/ui';

export function AdminAuditPage() {
  return <PageHeader title="Audit" />;
}
