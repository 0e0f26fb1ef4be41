import net from 'node:net';

/**
 * Ports handed out by freePort come from a block of this test worker's own, below the kernel's ephemeral range
 * (32768-60999): a port picked by listen(0) and closed again can be handed to another test file's listen(0) or
 * outgoing connection before the node meant to use it binds it, and a replica then talks to a stranger.
 */
const BLOCK = 400;
const FIRST = 12_000 + (Number(process.env.VITEST_POOL_ID ?? process.pid) % 48) * BLOCK;
// two test runs side by side (two checkouts) have the same pool ids: each starts at its own place in the block
let next = process.pid % BLOCK;

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A TCP port free right now on 127.0.0.1 (for servers whose URL must be known before they start). */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < BLOCK; tries++) {
    const port = FIRST + (next++ % BLOCK);
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port in ${FIRST}-${FIRST + BLOCK - 1}`);
}
