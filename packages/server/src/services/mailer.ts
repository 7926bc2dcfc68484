import nodemailer from 'nodemailer';

export interface MailMessage {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
}

/** Whether a failed send may have delivered the message anyway (so it must not be sent again). */
export class MailError extends Error {
  constructor(message: string, readonly maybeSent: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MailError';
  }
}

export interface Mailer {
  send(message: MailMessage): Promise<void>;
  close(): void;
}

/** SMTP through nodemailer (`KEYFOB_SMTP_URL` such as smtp://user:pass@host:587, smtps:// for TLS from the start). */
export function smtpMailer(url: string, from: string): Mailer {
  const transport = nodemailer.createTransport(url, {
    // nodemailer's own defaults wait up to ten minutes; a notice can wait for the next round.
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 30_000,
    from,
  } as Record<string, unknown>);
  return {
    async send(message) {
      try {
        await transport.sendMail({ from, to: message.to, subject: message.subject, text: message.text });
      } catch (error) {
        const e = error as { command?: string; responseCode?: number; message?: string };
        // The message was handed over but the server's final answer never came: it may be on its way.
        const maybeSent = e.command === 'DATA' && e.responseCode === undefined;
        // Never the URL (it may hold the SMTP password): the server's answer or the socket error.
        throw new MailError(`${e.command ? `${e.command}: ` : ''}${e.responseCode ? `${e.responseCode} ` : ''}${(e.message ?? 'send failed').replace(/\s+/g, ' ').slice(0, 300)}`, maybeSent, { cause: error });
      }
    },
    close() {
      transport.close();
    },
  };
}
