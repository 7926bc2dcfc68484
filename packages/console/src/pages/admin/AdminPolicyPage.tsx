import { PageHeader } from '../../components/ui';

export function AdminPolicyPage() {
  return <PageHeader title="Policy" />;
}
