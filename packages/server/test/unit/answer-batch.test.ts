import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { answerSoon, type AnswerSender } from '../../src/http/answer-batch.js';

/**
 * The request lanes' answers are written together at the end of the event loop's turn
 * (src/http/answer-batch.ts). A real server on loopback receives two requests; its handler answers
 * both in one turn once both are in.
 */

let server: http.Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

interface Received {
  readonly status?: number;
  readonly body?: string;
  readonly error?: string;
}

function get(port: number, path: string): Promise<Received> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
  });
}

/** A server that holds its requests until `count` are in, then hands their responses to `answer` in one turn. */
async function serverAnswering(count: number, answer: (held: Map<string, http.ServerResponse>) => void): Promise<number> {
  const held = new Map<string, http.ServerResponse>();
  server = http.createServer((req, res) => {
    held.set(req.url!, res);
    if (held.size === count) answer(held);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function recordingSender() {
  const sent: Array<[number, number]> = [];
  const failed: unknown[] = [];
  const sender: AnswerSender = { sent: (status, started) => void sent.push([status, started]), failed: (error) => void failed.push(error) };
  return { sender, sent, failed };
}

describe('answers written at the end of the turn', () => {
  it('writes nothing while the turn runs, then every answer of the turn, each told to its sender', async () => {
    const { sender, sent, failed } = recordingSender();
    const seenInTurn: boolean[] = [];
    const port = await serverAnswering(2, (held) => {
      answerSoon(held.get('/a')!, 200, { 'content-type': 'text/plain' }, 'first', sender, 1);
      answerSoon(held.get('/b')!, 404, { 'content-type': 'text/plain' }, 'second', sender, 2);
      seenInTurn.push(held.get('/a')!.headersSent, held.get('/b')!.headersSent);
    });
    const answers = await Promise.all([get(port, '/a'), get(port, '/b')]);
    expect(answers).toEqual([{ status: 200, body: 'first' }, { status: 404, body: 'second' }]);
    expect(seenInTurn).toEqual([false, false]);
    expect(sent).toEqual([[200, 1], [404, 2]]);
    expect(failed).toEqual([]);
  });

  it('closes a connection whose answer cannot be written, tells its sender, and still writes the others', async () => {
    const { sender, sent, failed } = recordingSender();
    const port = await serverAnswering(2, (held) => {
      // A header value with a line break: writeHead throws.
      answerSoon(held.get('/bad')!, 200, { 'x-broken': 'a\nb' }, 'never', sender, 1);
      answerSoon(held.get('/good')!, 200, { 'content-type': 'text/plain' }, 'fine', sender, 2);
    });
    const [bad, good] = await Promise.all([get(port, '/bad'), get(port, '/good')]);
    expect(bad.error).toBe('ECONNRESET');
    expect(good).toEqual({ status: 200, body: 'fine' });
    expect(sent).toEqual([[200, 2]]);
    expect(failed).toHaveLength(1);
    expect((failed[0] as NodeJS.ErrnoException).code).toBe('ERR_INVALID_CHAR');
  });

  it('keeps writing when a sender throws, and never closes a connection that was answered', async () => {
    const throwing: AnswerSender = {
      sent: () => {
        throw new Error('metrics broke');
      },
      failed: () => {
        throw new Error('logger broke');
      },
    };
    const port = await serverAnswering(3, (held) => {
      answerSoon(held.get('/answered')!, 200, { 'content-type': 'text/plain' }, 'one', throwing, 1);
      answerSoon(held.get('/broken')!, 200, { 'x-broken': 'a\nb' }, 'never', throwing, 2);
      answerSoon(held.get('/last')!, 200, { 'content-type': 'text/plain' }, 'three', throwing, 3);
    });
    const answers = await Promise.all([get(port, '/answered'), get(port, '/broken'), get(port, '/last')]);
    expect(answers).toEqual([{ status: 200, body: 'one' }, { error: 'ECONNRESET' }, { status: 200, body: 'three' }]);
  });
});
