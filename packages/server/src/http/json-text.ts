export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/**
 * JSON text written once per object and kept while the object lives (a WeakMap). For answers
 * that are a pure function of an object the verification cache holds for a while — the
 * presented token's own description, an introspection answer — so that a cached token is not
 * described and serialized again on every request.
 */
export class JsonTextMemo<K extends object> {
  readonly #texts = new WeakMap<K, string>();

  /** The text already written for `key`, if any (without writing one). */
  known(key: K): string | undefined {
    return this.#texts.get(key);
  }

  text(key: K, write: (key: K) => string): string {
    let text = this.#texts.get(key);
    if (text === undefined) this.#texts.set(key, (text = write(key)));
    return text;
  }
}
