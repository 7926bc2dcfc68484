/**
 * Shares one disk flush among the callers that ask for it at about the same time. `flush()`
 * resolves once a flush that began after the call has finished, since one already running may
 * have begun before the caller's write: callers arriving meanwhile wait for the next flush,
 * which starts when the running one ends and covers all of them.
 */
export class GroupFlush {
  #running: Promise<void> | undefined;
  #next: Promise<void> | undefined;

  constructor(private readonly flushOnce: () => Promise<void>) {}

  flush(): Promise<void> {
    if (this.#next !== undefined) return this.#next;
    const running = this.#running;
    if (running === undefined) return this.#start();
    const ignore = () => undefined;
    this.#next = running.then(ignore, ignore).then(() => {
      this.#next = undefined;
      return this.#start();
    });
    return this.#next;
  }

  /** Resolves when no flush is running or waiting (for closing what the flush writes to). */
  async settled(): Promise<void> {
    while (this.#next !== undefined || this.#running !== undefined) await (this.#next ?? this.#running)?.catch(() => undefined);
  }

  #start(): Promise<void> {
    const run: Promise<void> = this.flushOnce().finally(() => {
      if (this.#running === run) this.#running = undefined;
    });
    this.#running = run;
    return run;
  }
}
