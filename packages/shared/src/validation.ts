import type { z } from 'zod';
import { OtpgateError } from './errors.js';

/** One problem found in a document, with the dotted path of the value it is about. */
export interface ValidationProblem {
  path: string;
  message: string;
  /** 1-based line in the source file, when known. */
  line?: number;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

export function problemsFromZod(error: z.ZodError): ValidationProblem[] {
  return error.issues.map((issue) => {
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
    const path = formatPath(issue.path);
    const message =
      keys.length > 0 ? `unknown setting${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}` : issue.message;
    return { path: path || '(top level)', message };
  });
}

/** A document (config file, settings, import) failed validation; every problem is listed, not just the first. */
export class ValidationError extends OtpgateError {
  constructor(
    readonly source: string,
    readonly problems: ValidationProblem[],
  ) {
    super(
      'validation-failed',
      `${source} is not valid:\n` +
        problems.map((p) => `  - ${p.line ? `line ${p.line}: ` : ''}${p.path}: ${p.message}`).join('\n'),
    );
  }
}

/** Parse `value` with `schema`, or throw a ValidationError naming `source` and every problem. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, source: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(source, problemsFromZod(result.error));
  return result.data;
}
