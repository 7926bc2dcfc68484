import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import type { TestApp } from './test-app.js';

/**
 * Requests over loopback to a listening test app, for the request lanes that answer on node:http
 * before Fastify (inject never reaches them), and the part of an answer both ways must agree on.
 */
export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | undefined>;
  readonly body: string;
}

/** node:http's own headers of the connection; every other header of two answers must agree. */
const CONNECTION_HEADERS = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding']);

export function answerHeaders(headers: Record<string, unknown>): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !CONNECTION_HEADERS.has(name)).map(([name, value]) => [name, String(value)]));
}

/** An answer through Fastify's inject, in the shape of a loopback one, to compare the two. */
export function answerOf(injected: { statusCode: number; headers: Record<string, unknown>; body: string }): Answer {
  return { status: injected.statusCode, headers: answerHeaders(injected.headers), body: injected.body };
}

/** A lane's answer with the store down: the route's own bytes, a 503 `temporarily_unavailable` with Retry-After. */
export function expectStoreOutageAsRoute(viaLane: Answer, injected: Parameters<typeof answerOf>[0]): void {
  expect(viaLane).toEqual(answerOf(injected));
  expect(viaLane.status).toBe(503);
  expect(viaLane.headers['retry-after']).toBeDefined();
  expect(JSON.parse(viaLane.body)).toMatchObject({ error: 'temporarily_unavailable' });
}

/** Listens on an ephemeral loopback port and returns it. */
export async function listenOnLoopback(t: TestApp): Promise<number> {
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  return (t.app.server.address() as AddressInfo).port;
}

export interface LoopbackRequest {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly headers: Record<string, string>;
  /** Sent with its Content-Length, or in two chunks with `chunked`. */
  readonly body?: string;
  readonly chunked?: boolean;
  /** Runs once the headers are on their way and before the body is sent. */
  readonly beforeBody?: () => Promise<void>;
}

/** A raw request with node:http, so that the body's framing is the test's to choose. */
export function loopback(port: number, request: LoopbackRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const { body } = request;
    const framing = body === undefined ? {} : request.chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(Buffer.byteLength(body)) };
    const req = http.request({ host: '127.0.0.1', port, method: request.method, path: request.path, headers: { ...request.headers, ...framing } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: answerHeaders(res.headers), body: text }));
    });
    req.on('error', reject);
    if (body === undefined) req.end();
    else if (request.beforeBody) {
      req.flushHeaders();
      void request.beforeBody().then(() => req.end(body), reject);
    } else if (request.chunked) {
      // Two chunks, so that no declared length exists anywhere.
      req.write(body.slice(0, 3));
      req.end(body.slice(3));
    } else {
      req.end(body);
    }
  });
}

/**
 * Resolves once a lane's count of requests served has passed `before`: a lane takes a request when
 * its headers arrive, before its body (for the tests that change something in between).
 */
export async function untilTaken(served: () => number, before: number): Promise<void> {
  for (let waited = 0; served() === before; waited++) {
    if (waited > 500) throw new Error('the lane did not take the request');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
