import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ADMIN_ALLOW_DEFAULT } from '@otpgate/shared';
import { createLogger } from '@otpgate/core';
import { createSelfSignedServer } from '../src/cluster-ca.js';
import { createWebApp, uploadRoute } from '../src/web/app.js';
import { FORM_BODY_BYTES, fieldLimit, type UploadLimits } from '../src/web/input-limits.js';

const UPLOAD: UploadLimits = { what: 'a test file', fileBytes: 4096, files: 1, fields: ['pasted'] };
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** A multipart/form-data body: text fields, and one file. */
function multipart(fields: Record<string, string>, file?: { name: string; content: string }): { payload: string; headers: Record<string, string> } {
  const boundary = 'otpgate-test-boundary';
  const parts = Object.entries(fields).map(([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
  if (file) parts.push(`--${boundary}\r\nContent-Disposition: form-data; name="${file.name}"; filename="f.csv"\r\nContent-Type: text/csv\r\n\r\n${file.content}\r\n`);
  return { payload: `${parts.join('')}--${boundary}--\r\n`, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

describe('the web apps read only what fits their limits, from allowed addresses only', () => {
  let app: FastifyInstance;
  const lines: Array<Record<string, unknown>> = [];
  const received: unknown[] = [];

  beforeAll(async () => {
    const { certificate, key } = await createSelfSignedServer(['127.0.0.1'], 1);
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => done(void lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>)) });
    app = await createWebApp(
      { key, cert: certificate, minVersion: 'TLSv1.2' },
      { what: 'test UI', allow: ADMIN_ALLOW_DEFAULT, allowSetting: 'admin.allow',
        // these routes write nothing: the lock is always free (web-write-lock.test.ts holds a real one)
        writeLock: { whenWritable: () => Promise.resolve(true) }, logger: createLogger('info', 'test', sink), errorPage: ({ title, message }) => `<h1>${title}</h1><p>${message}</p>` },
    );
    const keep = (req: FastifyRequest) => {
      received.push(req.body);
      return 'ok';
    };
    app.post('/form', keep);
    app.get('/search', () => 'ok');
    uploadRoute(app, '/upload', UPLOAD, keep);
    await app.ready();
  });
  afterAll(() => app?.close());

  it('answers loopback and private addresses, and refuses others with 403 and one log line a minute per address', async () => {
    for (const remoteAddress of ['127.0.0.1', '10.20.30.40', '::ffff:192.168.1.9', 'fd00::5']) {
      expect((await app.inject({ method: 'GET', url: '/search', remoteAddress })).statusCode, remoteAddress).toBe(200);
    }
    for (let i = 0; i < 3; i++) {
      const refused = await app.inject({ method: 'POST', url: '/form', remoteAddress: '203.0.113.5', headers: FORM, payload: 'username=x' });
      expect(refused.statusCode).toBe(403);
      expect(refused.body).toContain('Requests from your address are not accepted here.');
    }
    expect((await app.inject({ method: 'GET', url: '/nowhere', remoteAddress: '2001:db8::7' })).statusCode).toBe(403);
    expect(lines.filter((l) => l.event === 'web-address-refused').map((l) => l.from)).toEqual(['203.0.113.5', '2001:db8::7']);
    expect(lines.find((l) => l.event === 'web-address-refused')!.msg).toContain('not in admin.allow');
  });

  it(`refuses a form body over ${FORM_BODY_BYTES / 1024} KiB with 413 before parsing it`, async () => {
    const before = received.length;
    const huge = await app.inject({ method: 'POST', url: '/form', headers: FORM, payload: `username=${'a'.repeat(2 * 1024 * 1024)}&password=x` });
    expect(huge.statusCode).toBe(413);
    expect(huge.body).toContain('The form sent more than 64 KiB');
    expect(received.length).toBe(before);
  });

  it('refuses a field over its own limit (a 257-byte user name, a long search) with 413 naming the field', async () => {
    expect(fieldLimit('username')).toBe(256);
    expect(fieldLimit('password')).toBe(1024);
    const ok = await app.inject({ method: 'POST', url: '/form', headers: FORM, payload: `username=${'u'.repeat(256)}&password=${'p'.repeat(1024)}&attributes=${'Filter-Id%3Dx%0A'.repeat(500)}` });
    expect(ok.statusCode).toBe(200);
    const name = await app.inject({ method: 'POST', url: '/form', headers: FORM, payload: `username=${'u'.repeat(257)}` });
    expect(name.statusCode).toBe(413);
    expect(name.body).toContain('The field "username" is too long: 257 bytes, at most 256 bytes are accepted.');
    expect((await app.inject({ method: 'POST', url: '/form', headers: FORM, payload: `password=${'p'.repeat(1025)}` })).statusCode).toBe(413);
    // a repeated field is checked in every copy, and multi-byte characters count as their bytes
    expect((await app.inject({ method: 'POST', url: '/form', headers: FORM, payload: `username=a&username=${'%C3%A9'.repeat(129)}` })).statusCode).toBe(413);
    expect((await app.inject({ method: 'GET', url: `/search?q=${'q'.repeat(2000)}` })).statusCode).toBe(413);
    const logged = lines.filter((l) => l.event === 'web-input-too-large');
    expect(logged.length).toBeGreaterThan(0);
    expect(JSON.stringify(logged)).not.toContain('uuuuuuuu');
  });

  it('takes forms only: JSON, text and multipart bodies outside an upload route get 415', async () => {
    expect((await app.inject({ method: 'POST', url: '/form', headers: { 'content-type': 'application/json' }, payload: '{"username":"x"}' })).statusCode).toBe(415);
    expect((await app.inject({ method: 'POST', url: '/form', headers: { 'content-type': 'text/plain' }, payload: 'x' })).statusCode).toBe(415);
    const upload = multipart({ username: 'x' }, { name: 'file', content: 'a,b\n' });
    expect((await app.inject({ method: 'POST', url: '/form', ...upload })).statusCode).toBe(415);
  });

  it('takes an upload within its limits, and refuses a larger file, a second file or a long pasted field with 413', async () => {
    const ok = await app.inject({ method: 'POST', url: '/upload', ...multipart({ pasted: 'p'.repeat(4096), format: 'users-csv' }, { name: 'file', content: 'x'.repeat(4096) }) });
    expect(ok.statusCode).toBe(200);
    expect(received.at(-1)).toMatchObject({ format: 'users-csv', file: expect.any(Buffer) });
    const big = await app.inject({ method: 'POST', url: '/upload', ...multipart({}, { name: 'file', content: 'x'.repeat(4097) }) });
    expect(big.statusCode).toBe(413);
    expect(big.body).toContain('The file is too large: a test file may be at most 4 KiB.');
    const boundary = 'b';
    const two = `--${boundary}\r\nContent-Disposition: form-data; name="a"; filename="a"\r\n\r\nx\r\n--${boundary}\r\nContent-Disposition: form-data; name="b"; filename="b"\r\n\r\ny\r\n--${boundary}--\r\n`;
    expect((await app.inject({ method: 'POST', url: '/upload', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, payload: two })).statusCode).toBe(413);
    expect((await app.inject({ method: 'POST', url: '/upload', ...multipart({ pasted: 'p'.repeat(4097) }) })).statusCode).toBe(413);
    expect((await app.inject({ method: 'POST', url: '/upload', ...multipart({ username: 'u'.repeat(300) }) })).statusCode).toBe(413);
  });
});
