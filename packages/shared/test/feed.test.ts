import { FlattenedSign, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { FeedError, feedDigest, newFeedNonce, signFeed, verifyFeed } from '@otpgate/shared';

const CLUSTER = 'c0ffee00-0000-4000-8000-000000000001';
const { privateKey, publicKey } = await generateKeyPair('Ed25519');
const body = Buffer.from(JSON.stringify({ kind: 'changes', entries: [] }));

async function refusal(promise: Promise<unknown>): Promise<{ reason: string; message: string }> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FeedError);
  return { reason: (err as FeedError).reason, message: (err as FeedError).message };
}

describe('feed signatures', () => {
  it('bind the body and the request: the nonce and a snapshot position come back verified', async () => {
    const nonce = newFeedNonce();
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const at = { seq: 41, hash: 'a'.repeat(64) };
    const signature = await signFeed(feedDigest(body), { nonce, at }, privateKey, CLUSTER);
    await expect(verifyFeed(body, signature, publicKey, CLUSTER, nonce)).resolves.toEqual({ nonce, at });
  });

  it('refuse an answer signed for another request: replayed', async () => {
    const signature = await signFeed(feedDigest(body), { nonce: newFeedNonce() }, privateKey, CLUSTER);
    expect(await refusal(verifyFeed(body, signature, publicKey, CLUSTER, newFeedNonce()))).toMatchObject({ reason: 'replayed' });
  });

  it('refuse an altered body, another cluster, and no signature', async () => {
    const nonce = newFeedNonce();
    const signature = await signFeed(feedDigest(body), { nonce }, privateKey, CLUSTER);
    const altered = Buffer.from(body.toString().replace('[]', '[1]'));
    expect((await refusal(verifyFeed(altered, signature, publicKey, CLUSTER, nonce))).reason).toBe('bad-signature');
    const other = await signFeed(feedDigest(body), { nonce }, privateKey, 'another-cluster');
    expect((await refusal(verifyFeed(body, other, publicKey, CLUSTER, nonce))).reason).toBe('wrong-cluster');
    expect((await refusal(verifyFeed(body, undefined, publicKey, CLUSTER, nonce))).reason).toBe('bad-signature');
  });

  it('say that an answer in the older format (the body signed, no nonce) comes from another otpgate version', async () => {
    const jws = await new FlattenedSign(body)
      .setProtectedHeader({ alg: 'EdDSA', b64: false, crit: ['b64'], typ: 'otpgate-feed+json', cid: CLUSTER })
      .sign(privateKey);
    const { reason, message } = await refusal(verifyFeed(body, `${jws.protected}..${jws.signature}`, publicKey, CLUSTER, newFeedNonce()));
    expect(reason).toBe('incompatible');
    expect(message).toContain('feed format 1, this replica speaks 3: upgrade the master and its replicas to the same otpgate version');
  });
});
