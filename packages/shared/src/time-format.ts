/**
 * How a moment is written for people, in the admin UI and in the `otpgate` command's tables alike: ISO 8601 in UTC
 * to the second ("2026-12-03T15:08:58Z"), which also parses back as a date where it lands in JSON.
 */

/** A time in epoch milliseconds as ISO 8601 UTC to the second; "-" for none. */
export function formatTime(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
