import nodemailer from 'nodemailer';

export interface MailMessage {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
}

/** A failed send, and whether the message may have been delivered anyway (so it must not be sent again). */
export class MailError extends Error {
  constructor(message: string, readonly maybeSent: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MailError';
  }
}

export interface Mailer {
  /** Connects and greets (and authenticates): throws MailError when the server cannot take mail now. */
  verify(): Promise<void>;
  send(message: MailMessage): Promise<void>;
  close(): void;
}

interface SmtpFailure {
  readonly code?: string;
  readonly command?: string;
  readonly responseCode?: number;
  readonly message?: string;
}

/** Never the URL (it may hold the SMTP password): the command, the server's answer or the socket error. */
function describe(error: SmtpFailure): string {
  return `${error.command ? `${error.command}: ` : ''}${error.responseCode ? `${error.responseCode} ` : ''}${(error.message ?? 'send failed').replace(/\s+/g, ' ').slice(0, 300)}`;
}

/** SMTP through nodemailer (`KEYFOB_SMTP_URL` such as smtp://user:pass@host:587, smtps:// for TLS from the start). */
export function smtpMailer(url: string, from: string): Mailer {
  const transport = nodemailer.createTransport(
    // nodemailer's own defaults wait 2 minutes to connect and 10 minutes on a silent socket; a
    // notice can wait for the next round.
    { url, connectionTimeout: 15_000, greetingTimeout: 15_000, socketTimeout: 30_000 },
    { from },
  );
  return {
    async verify() {
      try {
        await transport.verify();
      } catch (error) {
        throw new MailError(describe(error as SmtpFailure), false, { cause: error });
      }
    },
    async send(message) {
      try {
        await transport.sendMail({ from, to: message.to, subject: message.subject, text: message.text });
      } catch (error) {
        const e = error as SmtpFailure;
        // Only a 4xx/5xx answer proves the server did not take the message; a socket that closed
        // or went silent may have done so after the message was accepted.
        const refused = e.responseCode !== undefined && e.responseCode >= 400;
        throw new MailError(describe(e), !refused, { cause: error });
      }
    },
    close() {
      transport.close();
    },
  };
}
