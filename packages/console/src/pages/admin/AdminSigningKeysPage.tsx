import { PageHeader } from '../../components/ui';

export function AdminSigningKeysPage() {
  return <PageHeader title="SigningKeys" />;
}
