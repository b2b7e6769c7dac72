/**
 * Reads a password without it appearing in argv (and so in `ps`): from stdin when it is piped
 * or `--password-stdin` is given, else from a prompt on the terminal with echo off.
 */
import { CliError, usageError } from './command.js';

/** Longer input is not a password; stop reading instead of buffering whatever is piped in. */
const MAX_SECRET_BYTES = 4096;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += b.length;
    if (size > MAX_SECRET_BYTES) throw usageError('password on stdin is too long');
    chunks.push(b);
  }
  // One trailing newline is the line ending of `echo` or a file, not part of the password.
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    let value = '';
    const done = (err: Error | null) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (s: string) => {
      for (const ch of s) {
        if (ch === '\r' || ch === '\n') return done(null);
        if (ch === '\u0003') return done(new CliError('cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (value.length < MAX_SECRET_BYTES) value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

export async function readPassword(fromStdin: boolean): Promise<string> {
  if (fromStdin || !process.stdin.isTTY) {
    const pw = await readStdin();
    if (!pw) throw usageError('no password on stdin');
    return pw;
  }
  const first = await promptHidden('Password: ');
  const again = await promptHidden('Repeat password: ');
  if (first !== again) throw new CliError('the passwords do not match');
  return first;
}
