import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { Value } from 'typebox/value';
import { PolicyUpdate } from '@keyfob/protocol';
import type { Role, TokenStatus } from '@keyfob/protocol';
import { loadConfig } from '../config/load.js';
import { lockDataDir } from '../db/data-dir-lock.js';
import { SYSTEM_ACTOR, type SigningKeyRecord } from '../domain/models.js';
import type { Container } from '../container.js';
import { readPassword } from './password-input.js';
import { print } from './output.js';
import { registerClientCommands } from './client-commands.js';
import { addExamples } from './examples.js';
import { registerScanCommand } from './scan-command.js';
import { presentClient, presentPat, presentSigningKey, presentUser } from '../http/presenters.js';
import { KeyfobError } from '../errors/keyfob-error.js';

const CLI_ACTOR = { ...SYSTEM_ACTOR, userAgent: 'keyfob-cli' };

// The server, the store drivers and every service are loaded only by the commands that use them:
// the client commands, scan and --help start in a fraction of the time.
async function withContainer<T>(fn: (c: Container) => Promise<T>): Promise<T> {
  const { openContainer } = await import('../runtime.js');
  // A command is short-lived: it leaves fanning out and sending events to the serving instances.
  const container = await openContainer(loadConfig(), { startJobs: false });
  try {
    return await fn(container);
  } finally {
    await container.close();
  }
}

function printKeys(json: boolean, keys: readonly SigningKeyRecord[]): void {
  const list = keys.map(presentSigningKey);
  print(json, list, () => list.map((k) => `${k.kid}  ${k.alg.padEnd(6)} ${k.status}`).join('\n'));
}

const role = (value: string): Role => {
  if (value !== 'admin' && value !== 'user') throw new InvalidArgumentError('must be admin or user');
  return value;
};

async function userByName(c: Container, username: string) {
  const user = await c.users.findByUsername(username);
  if (!user) throw new KeyfobError('not_found', `no user "${username}"`);
  return user;
}

/** `name=value` pairs checked against the policy's schema; a usage error names the setting. */
function parsePolicySettings(settings: readonly string[]): PolicyUpdate {
  const update: Record<string, unknown> = {};
  for (const setting of settings) {
    const eq = setting.indexOf('=');
    if (eq < 1) throw new InvalidArgumentError(`"${setting}" is not name=value`);
    const name = setting.slice(0, eq);
    const raw = setting.slice(eq + 1);
    const known = Object.keys(PolicyUpdate.properties);
    if (!known.includes(name)) throw new InvalidArgumentError(`${name} is not a policy setting (${known.join(', ')})`);
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      throw new InvalidArgumentError(`${name}: "${raw}" is not a number, true/false, null or a [list]`);
    }
    update[name] = value;
  }
  if (!Value.Check(PolicyUpdate, update)) {
    const first = [...Value.Errors(PolicyUpdate, update)][0];
    throw new InvalidArgumentError(`${first?.instancePath.replace(/^\//, '') || 'policy'}: ${first?.message ?? 'not a valid policy setting'}`);
  }
  return update as PolicyUpdate;
}

export function buildProgram(): Command {
  // A usage error is its message and one hint, not the whole help.
  const program = new Command('keyfob').description('keyfob: self-hosted personal access tokens').showHelpAfterError('(add --help for usage and examples)');
  // Usage errors are thrown (exit code 2 in runCli) rather than exiting on the spot.
  program.exitOverride();

  program
    .command('serve')
    .description('start the server (configuration from KEYFOB_* variables and DATABASE_URL)')
    .action(async () => {
      const { serve } = await import('../serve.js');
      await serve(loadConfig());
    });

  program
    .command('migrate')
    .description('bring the database schema up to date and exit')
    .action(async () => {
      const config = loadConfig();
      const release = config.database.kind === 'sqlite' ? lockDataDir(config.dataDir) : () => {};
      const [{ createDb }, { migrateToLatest }] = await Promise.all([import('../db/connect.js'), import('../db/migrate.js')]);
      const db = createDb(config.database);
      try {
        const results = await migrateToLatest(db);
        console.log(results.length === 0 ? 'schema is up to date' : results.map((r) => `${r.status}: ${r.migrationName}`).join('\n'));
      } finally {
        await db.destroy();
        release();
      }
    });

  const users = program.command('users').description('manage users directly in the database (operators)');
  users
    .command('create <username>')
    .description('create a user; the password comes from --password-stdin/KEYFOB_USER_PASSWORD or a prompt')
    .option('--admin', 'give the admin role')
    .option('--role <role>', 'admin or user', role)
    .option('--password-stdin', 'read the password from standard input')
    .option('--display-name <name>')
    .option('--email <email>')
    .option('--json', 'print JSON')
    .action(async (username: string, opts: { admin?: boolean; role?: Role; passwordStdin?: boolean; displayName?: string; email?: string; json?: boolean }) => {
      const password = process.env['KEYFOB_USER_PASSWORD'] ?? (await readPassword(`password for ${username}: `));
      if (password.length < 8) throw new KeyfobError('invalid_request', 'password: must be at least 8 characters');
      await withContainer(async (c) => {
        const user = await c.users.create(CLI_ACTOR, { username, password, role: opts.admin ? 'admin' : (opts.role ?? 'user'), displayName: opts.displayName, email: opts.email ?? null });
        print(Boolean(opts.json), presentUser(user), () => `created ${user.role} ${user.username} (${user.id})`);
      });
    });
  users
    .command('list')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      await withContainer(async (c) => {
        const list = (await c.users.list({}, undefined, 1000)).map(presentUser);
        print(Boolean(opts.json), list, () => list.map((u) => `${u.id}  ${u.username.padEnd(24)} ${u.role.padEnd(6)} ${u.disabled ? 'disabled' : 'active'}`).join('\n'));
      });
    });
  users
    .command('set-role <username> <role>')
    .action(async (username: string, newRole: string) => {
      await withContainer(async (c) => {
        const user = await c.users.update(CLI_ACTOR, (await userByName(c, username)).id, { role: role(newRole) });
        console.log(`${user.username} is now ${user.role}`);
      });
    });
  for (const [name, disabled] of [['disable', true], ['enable', false]] as const) {
    users.command(`${name} <username>`).action(async (username: string) => {
      await withContainer(async (c) => {
        const user = await c.users.update(CLI_ACTOR, (await userByName(c, username)).id, { disabled });
        console.log(`${user.username} is ${user.disabledAt ? 'disabled; their tokens stop working' : 'enabled'}`);
      });
    });
  }

  const tokens = program.command('tokens').description('inspect and revoke tokens directly in the database (operators)');
  tokens
    .command('list')
    .option('--user <username>')
    .option('--status <status>', 'active, expired, revoked or all', 'active')
    .option('--json', 'print JSON')
    .action(async (opts: { user?: string; status: TokenStatus | 'all'; json?: boolean }) => {
      await withContainer(async (c) => {
        const userId = opts.user ? (await userByName(c, opts.user)).id : undefined;
        const list = (await c.pats.list({ userId, status: opts.status }, undefined, 1000)).map((p) => presentPat(p, c.clock.now()));
        print(Boolean(opts.json), list, () => list.map((p) => `${p.id}  ${p.displayHint}  ${p.status.padEnd(7)} ${p.name}`).join('\n'));
      });
    });
  tokens
    .command('revoke [id]')
    .description('revoke one token by id, or every token of --user and/or issued before --all-before')
    .option('--user <username>')
    .option('--all-before <date>', 'ISO 8601 date-time: revoke every token issued before it')
    .option('--reason <text>')
    .action(async (id: string | undefined, opts: { user?: string; allBefore?: string; reason?: string }) => {
      await withContainer(async (c) => {
        if (id) {
          await c.pats.revoke(CLI_ACTOR, id, opts.reason);
          console.log(`revoked ${id}`);
          return;
        }
        const issuedBefore = opts.allBefore === undefined ? undefined : Date.parse(opts.allBefore);
        if (Number.isNaN(issuedBefore)) throw new KeyfobError('invalid_request', '--all-before: must be an ISO 8601 date-time');
        const userId = opts.user ? (await userByName(c, opts.user)).id : undefined;
        const count = await c.pats.revokeMatching(CLI_ACTOR, { userId, issuedBefore }, opts.reason);
        console.log(`revoked ${count} token(s)`);
      });
    });

  const clients = program.command('clients').description('manage OAuth clients directly in the database (operators)');
  clients
    .command('create <name>')
    .description('register a client for token exchange; prints the secret once')
    .option('--audience <uri...>', 'allowed audiences/resources (default: any)')
    .option('--scope <scope...>', 'ceiling on the scopes it may receive (default: none)')
    .option('--no-introspection', 'may not call /oauth/introspect')
    .option('--json', 'print JSON')
    .action(async (name: string, opts: { audience?: string[]; scope?: string[]; introspection: boolean; json?: boolean }) => {
      await withContainer(async (c) => {
        const { client, clientSecret } = await c.clients.create(CLI_ACTOR, { name, allowedAudiences: opts.audience ?? [], allowedScopes: opts.scope ?? null, introspection: opts.introspection });
        print(Boolean(opts.json), { ...presentClient(client), clientSecret }, () => `client_id:     ${client.id}\nclient_secret: ${clientSecret}\n(the secret is shown this once)`);
      });
    });
  clients
    .command('list')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      await withContainer(async (c) => {
        const list = (await c.clients.list()).map(presentClient);
        print(Boolean(opts.json), list, () => list.map((x) => `${x.clientId}  ${x.name}${x.disabled ? '  (disabled)' : ''}`).join('\n'));
      });
    });

  const keys = program.command('keys').description('signing keys of exchanged JWTs');
  keys
    .command('rotate')
    .description('promote the published next key to active, retire the active one, publish a new next key')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      await withContainer(async (c) => printKeys(Boolean(opts.json), await c.signingKeys.rotate(CLI_ACTOR)));
    });
  keys
    .command('list')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      await withContainer(async (c) => printKeys(Boolean(opts.json), await c.signingKeys.list()));
    });

  const policy = program.command('policy').description('the token policy, directly in the database (operators)');
  policy
    .command('show')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      await withContainer(async (c) => {
        const current = await c.policy.get();
        print(Boolean(opts.json), current, () => Object.entries(current).map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join('\n'));
      });
    });
  policy
    .command('set <setting...>')
    .description('change settings, each as name=value (JSON values: numbers, true/false, null, [7,30])')
    .addHelpText('after', `
Examples:
  keyfob policy set maxLifetimeDays=90 requireExpiry=true
  keyfob policy set expiryPresetsDays=[7,30,90] defaultExpiryDays=30
  keyfob policy set maxTokensPerUser=null`)
    .action(async (settings: string[]) => {
      const update = parsePolicySettings(settings);
      await withContainer(async (c) => {
        const next = await c.policy.update(CLI_ACTOR, update);
        console.log(Object.entries(next).map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join('\n'));
      });
    });

  registerClientCommands(program);
  registerScanCommand(program);
  addExamples(program);

  return program;
}

/**
 * Exit codes: 0 done; 1 the command failed (refused by the server, cannot reach it, nothing to
 * act on; `keyfob scan`: tokens found); 2 usage error (unknown command or option, bad argument).
 */
export async function runCli(argv: readonly string[]): Promise<void> {
  // `keyfob … | head`: the reader went away; that is not an error of keyfob's.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
  try {
    await buildProgram().parseAsync([...argv]);
  } catch (error) {
    // Thrown by a command's own argument checks (commander prints its own usage errors).
    if (error instanceof InvalidArgumentError) {
      console.error(`keyfob: ${error.message}`);
      process.exitCode = 2;
      return;
    }
    if (error instanceof CommanderError) {
      process.exitCode = ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(error.code) ? 0 : 2;
      return;
    }
    console.error(`keyfob: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
