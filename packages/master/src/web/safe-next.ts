/**
 * Where a form may send the browser next (after sign-in, back after an error): only a path on this site. Browsers
 * read `/\host` and `//host` as another site and strip tabs and newlines from URLs, so anything with a backslash, a
 * second leading slash or a control character is refused in favour of `fallback`.
 */
export function safeNext(next: string | undefined, fallback = '/'): string {
  if (!next || next[0] !== '/' || next[1] === '/') return fallback;
  // eslint-disable-next-line no-control-regex
  if (/[\\\u0000-\u001f\u007f]/.test(next)) return fallback;
  return next;
}
