import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** Who is told once an answer has been written, or could not be. */
export interface AnswerSender {
  /** Written; `started` is what was passed to `answerSoon`. */
  sent(status: number, started: number): void;
  /** writeHead or end threw: the connection was closed unanswered. */
  failed(error: unknown): void;
}

interface PendingAnswer {
  readonly res: ServerResponse;
  readonly status: number;
  readonly headers: OutgoingHttpHeaders;
  readonly body: string;
  readonly sender: AnswerSender;
  readonly started: number;
}

let pending: PendingAnswer[] = [];

/**
 * The request lanes' answers, written together once the event loop has read every request that
 * arrived with them (setImmediate runs after the I/O callbacks of the turn), rather than each
 * right after its own request is read. Under load a turn reads many requests; written one by
 * one, each answer reached a load generator that had gone idle meanwhile and had to be woken for
 * it, and on these VMs that wake-up grew the answer's system call from 4.6 µs to 7.5 µs at 10 µs
 * of work per request and to 15 µs at 20 µs (docs/PERFORMANCE.md, run X). Written together, the
 * first wakes the client and the others find it awake. An idle server's turn holds one request,
 * which waits only for the turn to end.
 */
export function answerSoon(res: ServerResponse, status: number, headers: OutgoingHttpHeaders, body: string, sender: AnswerSender, started: number): void {
  if (pending.push({ res, status, headers, body, sender, started }) === 1) setImmediate(writePending);
}

function writePending(): void {
  const answers = pending;
  pending = [];
  // Nothing is thrown out of an immediate's callback, where it would take the process down and
  // leave the answers after it unwritten; a sender's own failure (its metrics, its log) has
  // nowhere left to go.
  for (const answer of answers) {
    try {
      answer.res.writeHead(answer.status, answer.headers);
      answer.res.end(answer.body);
    } catch (error) {
      // Maybe half answered: closed rather than answered twice.
      answer.res.destroy();
      try {
        answer.sender.failed(error);
      } catch {
        // as above
      }
      continue;
    }
    try {
      answer.sender.sent(answer.status, answer.started);
    } catch {
      // Answered: a failing sender must not close a connection that may carry the next answer.
    }
  }
}
