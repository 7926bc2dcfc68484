import { ConfigError } from './config-error.js';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/**
 * An http(s) URL without query or fragment. D11: `http://` only for loopback hosts, because
 * anything else would carry sessions, codes and tokens in the clear.
 */
export function parseServiceUrl(variable: string, raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(variable, `"${raw}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError(variable, 'must be http(s)');
  if (url.protocol === 'http:' && !LOOPBACK_HOSTS.has(url.hostname)) {
    throw new ConfigError(variable, 'http:// is allowed only for loopback hosts; use https://');
  }
  if (url.search || url.hash) throw new ConfigError(variable, 'must not have a query or fragment');
  return url;
}
