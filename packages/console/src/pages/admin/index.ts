export { AdminUsersPage } from './AdminUsersPage';
export { AdminTokensPage } from './AdminTokensPage';
export { AdminPolicyPage } from './AdminPolicyPage';
export { AdminScopesPage } from './AdminScopesPage';
export { AdminClientsPage } from './AdminClientsPage';
export { AdminSigningKeysPage } from './AdminSigningKeysPage';
export { AdminAuditPage } from './AdminAuditPage';
export { AdminWebhooksPage, AdminWebhookDeliveriesPage } from './AdminWebhooksPage';
