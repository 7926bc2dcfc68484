import { connect, createServer, type Server, type Socket } from 'node:net';

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket | undefined;
  listener: boolean;
  frozen: boolean;
}

export type ProxyMode = 'forward' | 'reset' | 'blackhole' | 'delay';

/**
 * A TCP proxy between keyfob and PostgreSQL that breaks the path the ways networks do:
 *
 * - `reset()`: every open connection, and every new one, is torn down with an RST;
 * - `blackhole()`: every open connection, and every new one, stays open and carries nothing
 *   (no FIN, no RST), as a frozen path or a dead NAT entry would;
 * - `delay(ms)`: every chunk is held for `ms` in each direction;
 * - `freezeListeners()`: only the listener connections open now go silent (half-open), the rest
 *   works — the LISTEN connection is recognised by the `keyfob-listener-` application_name in
 *   its startup message;
 * - `forward()`: new connections work again (connections frozen before stay dead: keyfob must
 *   notice and replace them).
 */
export class FaultProxy {
  readonly #server: Server;
  readonly #pairs = new Set<Pair>();
  #mode: ProxyMode = 'forward';
  #delayMs = 0;
  /** Listener connections opened through the proxy so far. */
  listenerConnections = 0;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(upstreamHost: string, upstreamPort: number): Promise<FaultProxy> {
    const server = createServer();
    const proxy = new FaultProxy(server);
    server.on('connection', (client) => proxy.#accept(client, upstreamHost, upstreamPort));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.#server.address() as { port: number }).port;
  }

  /** Connections open now (frozen ones included). */
  get openConnections(): number {
    return this.#pairs.size;
  }

  forward(): void {
    this.#mode = 'forward';
  }

  reset(): void {
    this.#mode = 'reset';
    for (const pair of this.#pairs) this.#drop(pair, true);
  }

  blackhole(): void {
    this.#mode = 'blackhole';
    for (const pair of this.#pairs) pair.frozen = true;
  }

  delay(ms: number): void {
    this.#mode = 'delay';
    this.#delayMs = ms;
  }

  /** Freezes the listener connections open now; returns how many. */
  freezeListeners(): number {
    let n = 0;
    for (const pair of this.#pairs) {
      if (pair.listener && !pair.frozen) {
        pair.frozen = true;
        n++;
      }
    }
    return n;
  }

  async close(): Promise<void> {
    for (const pair of this.#pairs) this.#drop(pair, false);
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket, host: string, port: number): void {
    client.on('error', () => {});
    if (this.#mode === 'reset') {
      client.resetAndDestroy();
      return;
    }
    const blackholed = this.#mode === 'blackhole';
    const upstream = blackholed ? undefined : connect(port, host);
    const pair: Pair = { client, upstream, listener: false, frozen: blackholed };
    this.#pairs.add(pair);
    let first = true;
    client.on('data', (chunk: Buffer) => {
      if (first) {
        first = false;
        if (chunk.includes('keyfob-listener-')) {
          pair.listener = true;
          this.listenerConnections++;
        }
      }
      if (!pair.frozen) this.#pass(() => upstream?.write(chunk));
    });
    upstream?.on('data', (chunk: Buffer) => {
      if (!pair.frozen) this.#pass(() => client.write(chunk));
    });
    const close = () => this.#drop(pair, false);
    client.on('close', () => {
      if (!pair.frozen) close();
      else this.#pairs.delete(pair); // the peer gave up on a frozen connection
    });
    upstream?.on('error', close).on('close', () => {
      if (!pair.frozen) close();
    });
  }

  #pass(write: () => void): void {
    if (this.#mode === 'delay' && this.#delayMs > 0) setTimeout(write, this.#delayMs);
    else write();
  }

  #drop(pair: Pair, reset: boolean): void {
    this.#pairs.delete(pair);
    if (reset) pair.client.resetAndDestroy();
    else pair.client.destroy();
    pair.upstream?.destroy();
  }
}
