import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { ADMIN_ALLOW_DEFAULT, ConflictError, InvalidInputError, NotFoundError, OtpgateError, ReadOnlyReplicaError, ValidationError } from '@otpgate/shared';
import { createLogger } from '@otpgate/core';
import { createSelfSignedServer } from '../src/cluster-ca.js';
import { createWebApp, type Refusal } from '../src/web/app.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** What SQLite throws when the disk is full. */
function diskFull(): Error {
  return Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
}

describe('the web apps\' error handler: route handlers throw, the app answers with its page and the right status', () => {
  let app: FastifyInstance;
  const lines: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    const { certificate, key } = await createSelfSignedServer(['127.0.0.1'], 1);
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => done(void lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>)) });
    app = await createWebApp(
      { key, cert: certificate, minVersion: 'TLSv1.2' },
      {
        what: 'test UI',
        allow: ADMIN_ALLOW_DEFAULT,
        allowSetting: 'admin.allow',
        // these routes write nothing: the lock is always free (web-write-lock.test.ts holds a real one)
        writeLock: { whenWritable: () => Promise.resolve(true) },
        logger: createLogger('info', 'test', sink),
        // the page as JSON, to see what the handler gave it
        errorPage: (refusal: Refusal) => JSON.stringify(refusal),
        // the app answers a form's error itself when the form asks for it
        actionError: (req, reply, message) => ((req.body as Record<string, string> | undefined)?.back ? reply.redirect(`/form?error=${encodeURIComponent(message)}`, 303) : undefined),
      },
    );
    const throwing: Record<string, () => Error> = {
      '/missing': () => new NotFoundError('user', 'bob'),
      '/conflict': () => new ConflictError('the name "staff" is taken by another group'),
      '/invalid': () => new InvalidInputError('must be at most 64 characters', 'username'),
      '/validation': () => new ValidationError('settings', [{ path: 'otp.digits', message: 'must be 6 or 8' }, { path: 'otp.period', message: 'too long' }]),
      '/replica': () => new ReadOnlyReplicaError('https://master.example:8444'),
      '/disk': diskFull,
      '/disk-wrapped': () => new OtpgateError('store', 'could not save the user', { cause: diskFull() }),
      '/bug': () => new TypeError('cannot read properties of undefined (reading "secret")'),
    };
    for (const [path, error] of Object.entries(throwing)) {
      app.get(path, async () => {
        throw error();
      });
      app.post(path, async () => {
        throw error();
      });
    }
    await app.ready();
  });
  afterAll(() => app?.close());

  const get = async (url: string): Promise<{ status: number; page: Refusal }> => {
    const answer = await app.inject({ method: 'GET', url });
    expect(answer.headers['content-type']).toBe('text/html; charset=utf-8');
    return { status: answer.statusCode, page: JSON.parse(answer.body) as Refusal };
  };

  it('answers what does not exist with 404, and other otpgate errors (conflict, invalid input) with 400 and their message', async () => {
    expect(await get('/missing')).toEqual({ status: 404, page: { status: 404, title: 'Not found', message: 'user "bob" does not exist' } });
    expect(await get('/conflict')).toEqual({ status: 400, page: { status: 400, title: 'Cannot show this', message: 'the name "staff" is taken by another group' } });
    expect(await get('/invalid')).toEqual({ status: 400, page: { status: 400, title: 'Cannot show this', message: 'username: must be at most 64 characters' } });
  });

  it('lists every problem of a validation error on one line', async () => {
    expect((await get('/validation')).page.message).toBe('otp.digits: must be 6 or 8; otp.period: too long');
  });

  it('refuses a change on a read-only replica with 403, and gives the page the master to link to', async () => {
    const { status, page } = await get('/replica');
    expect(status).toBe(403);
    expect(page).toMatchObject({ title: 'This node is a read-only replica', masterUrl: 'https://master.example:8444' });
    expect(page.message).toContain('make changes on the master (https://master.example:8444)');
  });

  it('answers a full disk with 503 and the cause, even under an otpgate error, and logs it once a minute without a stack', async () => {
    for (const url of ['/disk', '/disk-wrapped', '/disk']) {
      expect(await get(url)).toEqual({
        status: 503,
        page: { status: 503, title: 'Cannot save now', message: 'This node cannot write its database: the disk holding the data folder is full. Nothing was changed; try again once that is fixed.' },
      });
    }
    const logged = lines.filter((l) => l.event === 'web-store-unwritable');
    expect(logged).toHaveLength(1);
    expect(JSON.stringify(logged)).not.toContain(' at ');
  });

  it('answers a bug with 500 and a page that says nothing of it, and logs it with its stack', async () => {
    expect(await get('/bug')).toEqual({ status: 500, page: { status: 500, title: 'Something went wrong', message: 'The error has been logged on the node.' } });
    const logged = lines.find((l) => l.msg === 'test UI error');
    expect(String(logged?.err)).toContain('TypeError: cannot read properties of undefined');
    expect(logged).toMatchObject({ path: '/bug', server: 'test UI' });
  });

  it('lets the app answer a form\'s otpgate error its own way, and uses its page when the app does not', async () => {
    const back = await app.inject({ method: 'POST', url: '/invalid', headers: FORM, payload: 'back=1' });
    expect(back.statusCode).toBe(303);
    expect(back.headers.location).toBe(`/form?error=${encodeURIComponent('username: must be at most 64 characters')}`);
    expect((await app.inject({ method: 'POST', url: '/missing', headers: FORM, payload: 'x=1' })).statusCode).toBe(404);
    // not for what the person cannot fix: a read-only replica, a full disk, a bug
    for (const [url, status] of [['/replica', 403], ['/disk', 503], ['/bug', 500]] as const) {
      expect((await app.inject({ method: 'POST', url, headers: FORM, payload: 'back=1' })).statusCode, url).toBe(status);
    }
  });
});
