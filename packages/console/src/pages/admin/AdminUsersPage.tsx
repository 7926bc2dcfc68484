import { PageHeader } from '../../components/ui';

export function AdminUsersPage() {
  return <PageHeader title="Users" />;
}
