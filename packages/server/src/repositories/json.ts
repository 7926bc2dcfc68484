/** JSON columns are encoded and decoded here and nowhere else. */
export function encodeJson(value: unknown): string {
  return JSON.stringify(value);
}

export function decodeJsonArray(text: string): string[] {
  // Most tokens have no audiences and no allow-list: skip the parser for them.
  if (text === '[]') return [];
  const value: unknown = JSON.parse(text);
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

export function decodeJsonObject(text: string): Record<string, unknown> {
  const value: unknown = JSON.parse(text);
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

export const toDate = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));
