import type { Command } from 'commander';

/** Examples shown by `--help`, by command path (commands with their own longer help add theirs). */
const EXAMPLES: Readonly<Record<string, readonly string[]>> = {
  serve: ['keyfob serve', 'DATABASE_URL=postgres://keyfob@db/keyfob KEYFOB_SECRET=… keyfob serve'],
  migrate: ['keyfob migrate', 'DATABASE_URL=postgres://keyfob@db/keyfob KEYFOB_SECRET=… keyfob migrate'],
  'users create': ['KEYFOB_USER_PASSWORD=… keyfob users create alice', 'keyfob users create root --admin --json < password.txt'],
  'users list': ['keyfob users list', 'keyfob users list --json'],
  'users set-role': ['keyfob users set-role alice admin'],
  'users disable': ['keyfob users disable alice        # her tokens stop working at once'],
  'users enable': ['keyfob users enable alice'],
  'tokens list': ['keyfob tokens list --user alice --status all', 'keyfob tokens list --json'],
  'tokens revoke': ['keyfob tokens revoke 0190f…', 'keyfob tokens revoke --user alice --reason "laptop stolen"', 'keyfob tokens revoke --all-before 2026-11-01T00:00:00Z   # incident cut-off'],
  'clients create': ['keyfob clients create gateway --audience https://api.example.com --json'],
  'clients list': ['keyfob clients list'],
  'keys rotate': ['keyfob keys rotate'],
  'keys list': ['keyfob keys list --json'],
  'policy show': ['keyfob policy show', 'keyfob policy show --json'],
  logout: ['keyfob logout'],
  whoami: ['keyfob whoami', 'KEYFOB_TOKEN=kf_pat_… keyfob whoami --server https://keyfob.example.com --json'],
  'token list': ['keyfob token list', 'keyfob token list --status all --json'],
  'token rotate': ['keyfob token rotate 0190f…', 'NEW=$(keyfob token rotate 0190f… --grace-seconds 300)'],
  'token revoke': ['keyfob token revoke 0190f… --reason "no longer needed"'],
};

/** Adds the examples above, and the exit codes, to every command's --help. */
export function addExamples(program: Command): void {
  const walk = (command: Command, path: string[]) => {
    const key = path.join(' ');
    const examples = EXAMPLES[key];
    if (examples) command.addHelpText('after', `\nExamples:\n${examples.map((e) => `  ${e}`).join('\n')}`);
    for (const sub of command.commands) walk(sub, [...path, sub.name()]);
  };
  for (const command of program.commands) walk(command, [command.name()]);
  program.addHelpText(
    'after',
    `
Client commands (login, whoami, token …) talk to a keyfob server (--server or KEYFOB_URL) with a
token (KEYFOB_TOKEN, or the one keyfob login saved); the others work on the database directly
(KEYFOB_* variables and DATABASE_URL, as the server). Every command has --help with examples.

Exit codes: 0 done; 1 the command failed (the server refused, cannot reach it; scan: tokens found);
2 usage error (unknown command or option, bad argument).`,
  );
}
