import { InvalidArgumentError, type Command } from 'commander';
import type { PatDto } from '@keyfob/protocol';
import { ApiError, KeyfobApi } from './api-client.js';
import { credentialsPath, readSavedLogin, removeSavedLogin, writeSavedLogin } from './credentials-file.js';
import { print } from './output.js';
import { readPassword } from './password-input.js';

interface ServerOption {
  readonly server?: string;
  readonly json?: boolean;
}

const DEFAULT_SERVER = 'http://localhost:8080';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const PAT_TOKEN_TYPE = 'urn:keyfob:params:oauth:token-type:personal_access_token';

const normalize = (url: string) => url.replace(/\/+$/, '');

/**
 * The server (`--server`, else KEYFOB_URL, else the one `keyfob login` saved, else localhost) and
 * the token (KEYFOB_TOKEN, else the saved one — only for the server it was saved for: a token is
 * never sent to another server).
 */
function apiFor(opts: ServerOption): KeyfobApi {
  const saved = readSavedLogin();
  const server = normalize(opts.server ?? process.env['KEYFOB_URL'] ?? saved?.server ?? DEFAULT_SERVER);
  const token = process.env['KEYFOB_TOKEN'] || (saved !== undefined && normalize(saved.server) === server ? saved.token : undefined);
  return new KeyfobApi(server, token);
}

function withServer(command: Command): Command {
  return command.option('--server <url>', `keyfob's URL (default: KEYFOB_URL, the server of keyfob login, or ${DEFAULT_SERVER})`).option('--json', 'print JSON');
}

function describePat(p: PatDto): string {
  const expires = p.expiresAt === null ? 'never expires' : `expires ${p.expiresAt}`;
  return `${p.id}  ${p.displayHint}  ${(p.status ?? '').padEnd(7)} ${p.name}  [${p.scopes.join(' ')}]  ${expires}`;
}

async function listAll(api: KeyfobApi, status: string): Promise<PatDto[]> {
  const items: PatDto[] = [];
  let cursor: string | null = null;
  do {
    const page: { items: PatDto[]; nextCursor: string | null } = await api.get(`/api/v1/me/tokens?status=${encodeURIComponent(status)}&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}

/** Client commands: they talk to a keyfob server over its API, with a PAT. */
export function registerClientCommands(program: Command): void {
  withServer(program.command('login'))
    .description('save a token for the client commands (read from stdin, or asked for without echo)')
    .addHelpText('after', `
Examples:
  echo "$KEYFOB_TOKEN" | keyfob login --server https://keyfob.example.com
  keyfob login                       # asks for the token

The token is checked against the server, then saved in ${credentialsPath()} (mode 0600;
KEYFOB_CLI_CONFIG names another file). It is sent only to the server it was saved for.`)
    .action(async (opts: ServerOption) => {
      const server = normalize(opts.server ?? process.env['KEYFOB_URL'] ?? DEFAULT_SERVER);
      const token = (await readPassword('token: ')).trim();
      if (token === '') throw new Error('no token given: pipe one in, or type it at the prompt');
      const api = new KeyfobApi(server, token);
      const me = await api.get<{ username: string; role: string }>('/api/v1/me');
      const self = await api.get<PatDto>('/api/v1/tokens/self');
      writeSavedLogin({ server, token });
      print(Boolean(opts.json), { server, username: me.username, token: self }, () => `signed in to ${server} as ${me.username} with ${self.displayHint} ("${self.name}")`);
    });

  program
    .command('logout')
    .description('forget the token saved by keyfob login (it stays valid: revoke it to end it)')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      const path = credentialsPath();
      const removed = removeSavedLogin(path);
      print(Boolean(opts.json), { removed, path }, () => (removed ? `removed ${path}` : 'no saved login'));
    });

  withServer(program.command('whoami'))
    .description('the user and token the client commands act as')
    .action(async (opts: ServerOption) => {
      const api = apiFor(opts);
      const me = await api.get<{ id: string; username: string; role: string }>('/api/v1/me');
      const self = await api.get<PatDto>('/api/v1/tokens/self');
      print(Boolean(opts.json), { server: api.server, user: me, token: self }, () =>
        `${me.username} (${me.role}) on ${api.server}\ntoken ${self.displayHint} "${self.name}" [${self.scopes.join(' ')}], ${self.expiresAt === null ? 'never expires' : `expires ${self.expiresAt}`}`,
      );
    });

  const token = program.command('token').description('your own tokens, through the API (KEYFOB_TOKEN or keyfob login)');

  withServer(token.command('list'))
    .option('--status <status>', 'active, expired, revoked or all', 'active')
    .description('list your tokens')
    .action(async (opts: ServerOption & { status: string }) => {
      const items = await listAll(apiFor(opts), opts.status);
      print(Boolean(opts.json), items, () => (items.length === 0 ? `no ${opts.status} tokens` : items.map(describePat).join('\n')));
    });

  withServer(token.command('create <name>'))
    .description('create a token; prints the secret alone on stdout (shown this once)')
    .requiredOption('--scope <scope...>', 'scopes to grant')
    .option('--description <text>')
    .option('--expires-in-days <days>', 'lifetime in days (default: the policy default)', (v) => positiveInt('--expires-in-days', v))
    .option('--expires-at <iso>', 'expiry as an ISO 8601 date-time')
    .option('--no-expiry', 'never expires (where the policy allows it)')
    .option('--audience <uri...>', 'resource servers the token is for')
    .option('--allow-ip <cidr...>', 'addresses the token may be used from')
    .addHelpText('after', `
Examples:
  keyfob token create ci-deploy --scope tokens:read --expires-in-days 30
  TOKEN=$(keyfob token create nightly --scope reports:read)`)
    .action(async (name: string, opts: ServerOption & { scope: string[]; description?: string; expiresInDays?: number; expiresAt?: string; expiry: boolean; audience?: string[]; allowIp?: string[] }) => {
      const body = {
        name,
        scopes: opts.scope,
        ...(opts.description !== undefined ? { description: opts.description } : {}),
        ...(opts.expiry === false ? { expiresInDays: null } : opts.expiresInDays !== undefined ? { expiresInDays: opts.expiresInDays } : {}),
        ...(opts.expiresAt !== undefined ? { expiresAt: opts.expiresAt } : {}),
        ...(opts.audience ? { audiences: opts.audience } : {}),
        ...(opts.allowIp ? { allowedIps: opts.allowIp } : {}),
      };
      const created = await apiFor(opts).post<{ token: string; pat: PatDto }>('/api/v1/me/tokens', body);
      printSecret(Boolean(opts.json), created);
    });

  withServer(token.command('rotate <id>'))
    .description('new secret, same settings; prints the new secret alone on stdout')
    .option('--grace-seconds <seconds>', 'keep the old secret working this long (up to the policy)', (v) => positiveInt('--grace-seconds', v, 0))
    .action(async (id: string, opts: ServerOption & { graceSeconds?: number }) => {
      const rotated = await apiFor(opts).post<{ token: string; pat: PatDto }>(`/api/v1/me/tokens/${encodeURIComponent(id)}/rotate`, opts.graceSeconds !== undefined ? { gracePeriodSeconds: opts.graceSeconds } : {});
      printSecret(Boolean(opts.json), rotated);
    });

  withServer(token.command('revoke <id>'))
    .description('revoke one of your tokens (at once, everywhere)')
    .option('--reason <text>')
    .action(async (id: string, opts: ServerOption & { reason?: string }) => {
      // Nothing is read back: the token revoked may be the one this command runs with.
      await apiFor(opts).delete(`/api/v1/me/tokens/${encodeURIComponent(id)}`, opts.reason !== undefined ? { reason: opts.reason } : undefined);
      print(Boolean(opts.json), { id, revoked: true }, () => `revoked ${id}`);
    });

  withServer(token.command('exchange'))
    .description('exchange your token (RFC 8693) for a short-lived JWT for one resource; prints the JWT alone on stdout')
    .option('--client-id <id>', 'the OAuth client (default: KEYFOB_CLIENT_ID)')
    .option('--client-secret <secret>', 'its secret (default: KEYFOB_CLIENT_SECRET, which keeps it out of the process list)')
    .option('--scope <scope...>', 'scopes to ask for (default: all the token holds that the client may receive)')
    .option('--resource <uri>', 'the resource server the JWT is for')
    .option('--audience <name>', 'the audience, instead of a resource URI')
    .addHelpText('after', `
Examples:
  KEYFOB_CLIENT_SECRET=kf_cs_… keyfob token exchange --client-id kfc_… --resource https://api.example.com
  curl -H "Authorization: Bearer $(keyfob token exchange --client-id kfc_… --resource https://api.example.com)" https://api.example.com/`)
    .action(async (opts: ServerOption & { clientId?: string; clientSecret?: string; scope?: string[]; resource?: string; audience?: string }) => {
      const id = opts.clientId ?? process.env['KEYFOB_CLIENT_ID'];
      const secret = opts.clientSecret ?? process.env['KEYFOB_CLIENT_SECRET'];
      if (!id || !secret) throw new Error('give --client-id and --client-secret (or KEYFOB_CLIENT_ID and KEYFOB_CLIENT_SECRET)');
      const api = apiFor(opts);
      // The same rule as every call: a saved token goes only to the server it was saved for.
      const subject = api.subjectToken;
      if (!subject) throw new ApiError('no token to exchange: run keyfob login, or set KEYFOB_TOKEN', 0, 'no_token');
      const answer = await api.form<{ access_token: string; expires_in: number; scope: string }>('/oauth/token', {
        grant_type: TOKEN_EXCHANGE,
        subject_token: subject,
        subject_token_type: PAT_TOKEN_TYPE,
        ...(opts.scope ? { scope: opts.scope.join(' ') } : {}),
        ...(opts.resource ? { resource: opts.resource } : {}),
        ...(opts.audience ? { audience: opts.audience } : {}),
      }, { id, secret });
      print(Boolean(opts.json), answer, () => answer.access_token);
    });
}

function printSecret(json: boolean, created: { token: string; pat: PatDto }): void {
  if (json) {
    console.log(JSON.stringify(created, null, 2));
    return;
  }
  console.log(created.token);
  console.error(`${created.pat.name} (${created.pat.id}): ${created.pat.expiresAt === null ? 'never expires' : `expires ${created.pat.expiresAt}`}. This is the only time the secret is shown.`);
}

function positiveInt(flag: string, value: string, min = 1): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${flag} must be a whole number of at least ${min}`);
  return n;
}
