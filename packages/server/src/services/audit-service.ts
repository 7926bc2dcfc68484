import type { AuditEvent } from '../domain/models.js';
import type { Cursor } from '../domain/cursor.js';
import type { AuditFilter } from '../repositories/audit.js';
import type { Store } from '../repositories/store.js';

/** Reading the audit log (writing happens inside each service's transaction via recordAudit). */
export class AuditService {
  constructor(private readonly deps: { store: Store }) {}

  list(filter: AuditFilter, cursor: Cursor | undefined, limit: number): Promise<AuditEvent[]> {
    return this.deps.store.repos.audit.list(filter, cursor, limit);
  }
}
