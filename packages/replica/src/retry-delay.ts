/**
 * How long the feed client waits before it asks the master again after failures in a row: from 250 ms, doubling,
 * up to cluster.max_retry_seconds; each wait spread by ±25 %, so that replicas cut off together do not all come back
 * in the same instant.
 */
const FIRST_MS = 250;
/** 250 ms · 2^10 is over four minutes: past that the configured maximum decides, and the power cannot overflow. */
const MAX_DOUBLINGS = 10;

/** The wait after the `failures`th failure in a row (0: the first), in milliseconds. */
export function retryDelayMs(failures: number, maxRetrySeconds: number, random: () => number = Math.random): number {
  const delay = Math.min(maxRetrySeconds * 1000, FIRST_MS * 2 ** Math.min(failures, MAX_DOUBLINGS));
  return delay * (0.75 + random() * 0.5);
}
