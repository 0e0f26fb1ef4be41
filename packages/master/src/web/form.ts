/**
 * Reading a posted form. Bodies arrive parsed by the web app (web/app.ts: urlencoded, or multipart on upload routes),
 * every field already held to its length limit; these helpers only pick the values out.
 */

/** A posted form: text fields, repeated fields, and (multipart uploads) file contents as Buffers. */
export type Form = Record<string, string | string[] | Buffer | undefined>;

/** The request's form, or an empty one (a GET, or a POST without a body). */
export function formOf(body: unknown): Form {
  return (body ?? {}) as Form;
}

/** One value of a form field, trimmed (the first when repeated; an uploaded file as text). */
export function formText(form: Form, name: string): string {
  const v = form[name];
  const first = Array.isArray(v) ? v[0] : v;
  return (Buffer.isBuffer(first) ? first.toString('utf8') : first)?.trim() ?? '';
}

/** Whether a checkbox was ticked. */
export function formChecked(form: Form, name: string): boolean {
  return formText(form, name) === 'on';
}

/** A secret typed into a form (passphrase, key, password), exactly as typed: not trimmed, unlike formText. */
export function rawText(form: Form, name: string): string {
  const v = form[name];
  const first = Array.isArray(v) ? v[0] : v;
  return typeof first === 'string' ? first : '';
}
