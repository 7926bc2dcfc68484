import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedRequest {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface WebhookReceiver {
  readonly url: string;
  readonly received: ReceivedRequest[];
  /** Statuses to answer, in order; 200 once they run out. `'hang'` never answers. */
  answers: (number | 'hang')[];
  close(): Promise<void>;
}

/** A real HTTP receiver on loopback that records every delivery. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const hanging = new Set<() => void>();
  const receiver: WebhookReceiver = {
    url: '',
    received: [],
    answers: [],
    async close() {
      for (const end of hanging) end();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      receiver.received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const answer = receiver.answers.shift() ?? 200;
      if (answer === 'hang') {
        hanging.add(() => res.destroy());
        return;
      }
      res.writeHead(answer, { 'content-type': 'text/plain' }).end('thanks');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (receiver as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/keyfob`;
  return receiver;
}

export interface ReceivedMail {
  readonly from: string;
  readonly to: readonly string[];
  readonly raw: string;
  readonly user: string | undefined;
}

export interface MailServer {
  readonly port: number;
  readonly mails: ReceivedMail[];
  /** SMTP reply codes to refuse the next messages with (e.g. 451), in order. */
  refusals: number[];
  close(): Promise<void>;
}

/** A real SMTP server on loopback (smtp-server), with plain-text AUTH allowed as on port 587 without TLS. */
export async function startMailServer(credentials = { user: 'keyfob', pass: 'smtp-secret' }, port = 0): Promise<MailServer> {
  const mails: ReceivedMail[] = [];
  const state: MailServer = {
    port: 0,
    mails,
    refusals: [],
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = new SMTPServer({
    authOptional: false,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === credentials.user && auth.password === credentials.pass) callback(null, { user: auth.username });
      else callback(new Error('invalid credentials'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const refusal = state.refusals.shift();
        if (refusal !== undefined) {
          const error = new Error('try again later') as Error & { responseCode: number };
          error.responseCode = refusal;
          callback(error);
          return;
        }
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
          user: session.user as string | undefined,
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  (state as { port: number }).port = (server.server.address() as AddressInfo).port;
  return state;
}

/** A received message's text: header continuation lines unfolded, quoted-printable undone. */
export function mailText(raw: string): string {
  return raw
    .replace(/\r?\n[ \t]+/g, ' ')
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

export function mailSubject(raw: string): string {
  return /^Subject: (.*)$/m.exec(mailText(raw))?.[1]?.trim() ?? '';
}

/**
 * An SMTP server that takes a whole message and then drops the connection without answering:
 * the one failure after which a client cannot know whether the message was delivered.
 */
export async function startSilentAfterDataServer(): Promise<{ port: number; messages: number; close(): Promise<void> }> {
  const { createServer: createTcpServer } = await import('node:net');
  const state = { port: 0, messages: 0, close: async () => {} };
  const server = createTcpServer((socket) => {
    let inData = false;
    let buffered = '';
    socket.write('220 silent.test ESMTP\r\n');
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      if (inData) {
        if (buffered.includes('\r\n.\r\n')) {
          state.messages++;
          socket.destroy();
        }
        return;
      }
      let end: number;
      while ((end = buffered.indexOf('\r\n')) >= 0) {
        const line = buffered.slice(0, end).toUpperCase();
        buffered = buffered.slice(end + 2);
        if (line.startsWith('EHLO') || line.startsWith('HELO')) socket.write('250 silent.test\r\n');
        else if (line.startsWith('DATA')) {
          inData = true;
          socket.write('354 go ahead\r\n');
          if (buffered.includes('\r\n.\r\n')) {
            state.messages++;
            socket.destroy();
          }
          return;
        } else if (line.startsWith('QUIT')) socket.end('221 bye\r\n');
        else socket.write('250 OK\r\n');
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  state.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return state;
}
