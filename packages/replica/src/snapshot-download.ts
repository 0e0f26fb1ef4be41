/**
 * A snapshot's body, received into a file in the data folder (mode 0600, snapshot-file.ts) and hashed as it comes:
 * the replica holds one network chunk at a time, whatever the number of users, and checks the master's signature
 * against the digest before it reads a single line. A body larger than `maxBytes` (cluster.max_snapshot_mb) is
 * refused: as soon as the master announces its length, or once that many bytes have come.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { FeedError } from '@otpgate/shared';

export interface ReceivedSnapshot {
  /** The body's SHA-256 (hex), as feedDigest gives it. */
  digest: string;
  bytes: number;
}

const MiB = 1024 * 1024;

function tooLarge(bytes: number, maxBytes: number, announced: boolean): FeedError {
  return new FeedError(
    'too-large',
    `the master's snapshot ${announced ? 'is' : 'is over'} ${(bytes / MiB).toFixed(0)} MiB, more than cluster.max_snapshot_mb (${(maxBytes / MiB).toFixed(0)}) allows; ` +
      'raise cluster.max_snapshot_mb on this replica (about 500 MiB per million users with a token each) and make room for it in its data folder',
  );
}

/** Refuse a body whose announced length (Content-Length) is over the limit, before reading any of it. */
export function checkAnnouncedSize(contentLength: string | string[] | undefined, maxBytes: number): void {
  const announced = Number(Array.isArray(contentLength) ? contentLength[0] : contentLength);
  if (Number.isFinite(announced) && announced > maxBytes) throw tooLarge(announced, maxBytes, true);
}

/** Write `body` to a new file at `path` (mode 0600), hashing it; throws FeedError 'too-large' past `maxBytes`. */
export async function receiveSnapshot(body: AsyncIterable<Uint8Array>, path: string, maxBytes: number): Promise<ReceivedSnapshot> {
  const hash = createHash('sha256');
  const file = await open(path, 'wx', 0o600);
  let bytes = 0;
  try {
    for await (const chunk of body) {
      bytes += chunk.length;
      if (bytes > maxBytes) throw tooLarge(bytes, maxBytes, false);
      hash.update(chunk);
      for (let off = 0; off < chunk.length; ) off += (await file.write(chunk, off)).bytesWritten;
    }
  } finally {
    await file.close();
  }
  return { digest: hash.digest('hex'), bytes };
}
