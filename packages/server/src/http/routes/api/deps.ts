import type { Authenticator } from '../../plugins/authenticate.js';
import type { Clock } from '../../../services/clock.js';
import type { PatService } from '../../../services/pat-service.js';
import type { PolicyService } from '../../../services/policy-service.js';
import type { ScopeService } from '../../../services/scope-service.js';
import type { SessionService } from '../../../services/session-service.js';
import type { UserService } from '../../../services/user-service.js';
import type { AuditService } from '../../../services/audit-service.js';

/** What the API route modules need: services, the authentication hook factory, and the clock. */
export interface ApiDeps {
  readonly auth: Authenticator;
  readonly clock: Clock;
  readonly audit: AuditService;
  readonly users: UserService;
  readonly sessions: SessionService;
  readonly pats: PatService;
  readonly policy: PolicyService;
  readonly scopes: ScopeService;
  readonly secureCookies: boolean;
}
