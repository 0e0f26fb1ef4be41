import { createInterface } from 'node:readline';
import { InvalidInputError } from '@otpgate/shared';

/** The first line of standard input (for --password-stdin and friends). */
export async function readStdinLine(what: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, terminal: false });
  for await (const line of rl) {
    rl.close();
    return line.replace(/\r$/, '');
  }
  throw new InvalidInputError(`expected the ${what} on standard input, got nothing`);
}

/** Ask on the terminal without echoing what is typed. */
export async function promptHidden(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  const output = rl as unknown as { _writeToOutput: (s: string) => void; output: NodeJS.WriteStream };
  let asked = false;
  output._writeToOutput = (s: string) => {
    if (!asked) {
      output.output.write(s);
      asked = true;
    }
  };
  try {
    return await new Promise<string>((resolve) => rl.question(question, resolve));
  } finally {
    process.stderr.write('\n');
    rl.close();
  }
}

/** A new password from --password-stdin, or asked twice on a terminal; undefined when neither is possible. */
export async function obtainPassword(options: { passwordStdin?: boolean }, forWhom: string): Promise<string | undefined> {
  if (options.passwordStdin) return readStdinLine('password');
  if (!process.stdin.isTTY) return undefined;
  const first = await promptHidden(`New password for ${forWhom}: `);
  const second = await promptHidden('Again: ');
  if (first !== second) throw new InvalidInputError('the two passwords differ');
  return first;
}
