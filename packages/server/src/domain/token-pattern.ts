import { BODY_LENGTH } from '@keyfob/protocol';

/** Ready-to-use secret-scanning rules for an instance's token prefixes. */
export interface TokenPatternRules {
  readonly prefixes: readonly string[];
  /** A regular expression (RE2, PCRE and JavaScript alike) matching a whole token. */
  readonly regex: string;
  /** A gitleaks configuration that adds keyfob's rule to gitleaks' defaults. */
  readonly gitleaksToml: string;
}

/** `prefixes`: the current prefix first, then older ones that still verify. */
export function tokenPatternRules(prefixes: readonly string[], issuer: string): TokenPatternRules {
  // Prefixes match [a-z][a-z0-9_]{1,15}: nothing in them needs escaping. Nothing is required on
  // the left (a token glued to other text is still a leak); RE2 has no look-ahead, so the end is \b.
  const regex = `(?:${prefixes.join('|')})_[0-9A-Za-z]{${BODY_LENGTH}}\\b`;
  const gitleaksToml = [
    `# keyfob personal access tokens issued by ${issuer}`,
    '# Use: gitleaks detect --config keyfob-gitleaks.toml',
    'title = "keyfob"',
    '',
    '[extend]',
    'useDefault = true',
    '',
    '[[rules]]',
    'id = "keyfob-personal-access-token"',
    `description = "keyfob personal access token (${issuer.replace(/["\\]/g, '')})"`,
    `regex = '''${regex}'''`,
    `keywords = [${prefixes.map((p) => `"${p}_"`).join(', ')}]`,
    'tags = ["keyfob", "token"]',
    '',
  ].join('\n');
  return { prefixes, regex, gitleaksToml };
}
