import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { ADMIN_ALLOW_DEFAULT, ReadOnlyReplicaError } from '@otpgate/shared';
import { createLogger } from '@otpgate/core';
import { createSelfSignedServer } from '../src/cluster-ca.js';
import { createWebApp, masterOnlyPages, uploadRoute } from '../src/web/app.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

describe('the master-only pages: one encapsulated plugin a replica refuses whole', () => {
  let app: FastifyInstance;
  let role: 'master' | 'replica' = 'master';
  /** What ran for each request: the plugin's own hook, and the handlers. */
  const ran: string[] = [];

  beforeAll(async () => {
    const { certificate, key } = await createSelfSignedServer(['127.0.0.1'], 1);
    app = await createWebApp(
      { key, cert: certificate, minVersion: 'TLSv1.2' },
      {
        what: 'test UI',
        allow: ADMIN_ALLOW_DEFAULT,
        allowSetting: 'admin.allow',
        // these routes write nothing: the lock is always free (web-write-lock.test.ts holds a real one)
        writeLock: { whenWritable: () => Promise.resolve(true) },
        logger: createLogger('silent', 'test'),
        errorPage: ({ title, message }) => `<h1>${title}</h1><p>${message}</p>`,
      },
    );
    const handler = (name: string) => () => {
      ran.push(name);
      return name;
    };
    app.get('/', handler('start page'));
    masterOnlyPages(
      app,
      {
        isMaster: () => role === 'master',
        // as the admin UI does: without a session ("anonymous") the same answer as for no page, else read-only
        refuse: async (req, reply) => {
          if (req.headers['x-session'] === undefined) {
            reply.callNotFound();
            return reply;
          }
          throw new ReadOnlyReplicaError('https://master.example:8444');
        },
      },
      (pages) => {
        pages.addHook('onRequest', async () => void ran.push('plugin hook'));
        pages.get('/users', handler('users'));
        pages.post('/users', handler('add user'));
        // a page added later, in a plugin of its own, is covered as well
        uploadRoute(pages, '/imports', { what: 'a file', fileBytes: 1024, files: 1, fields: [] }, handler('import'));
      },
    );
    app.setNotFoundHandler((req, reply) => reply.code(404).send(`There is no page at ${req.url}.`));
    await app.ready();
  });
  afterAll(() => app?.close());

  const request = async (method: 'GET' | 'POST', url: string, signedIn = true) => {
    ran.length = 0;
    const answer = await app.inject({ method, url, headers: { ...FORM, ...(signedIn ? { 'x-session': '1' } : {}) }, payload: method === 'POST' ? 'username=x' : undefined });
    return { status: answer.statusCode, body: answer.body, ran: [...ran] };
  };

  it('serves every page on the master, the plugin\'s hooks running for its own pages only', async () => {
    role = 'master';
    expect(await request('GET', '/users')).toMatchObject({ status: 200, ran: ['plugin hook', 'users'] });
    expect(await request('POST', '/users')).toMatchObject({ status: 200, ran: ['plugin hook', 'add user'] });
    expect(await request('GET', '/')).toMatchObject({ status: 200, ran: ['start page'] });
  });

  it('on a replica refuses the master\'s pages before their hooks or handlers run, naming the master to a signed-in admin', async () => {
    role = 'replica';
    for (const [method, url] of [['GET', '/users'], ['POST', '/users'], ['POST', '/imports']] as const) {
      const refused = await request(method, url);
      expect(refused, `${method} ${url}`).toMatchObject({ status: 403, ran: [] });
      expect(refused.body).toContain('make changes on the master (https://master.example:8444)');
      const anonymous = await request(method, url, false);
      expect(anonymous, `${method} ${url} without a session`).toEqual({ status: 404, body: `There is no page at ${url}.`, ran: [] });
    }
  });

  it('on a replica still serves the pages outside the plugin, and answers unknown paths as not found', async () => {
    role = 'replica';
    expect(await request('GET', '/')).toMatchObject({ status: 200, ran: ['start page'] });
    expect(await request('GET', '/nowhere')).toMatchObject({ status: 404, body: 'There is no page at /nowhere.' });
  });

  it('reads the role on every request: the same app serves the pages again once the node is the master', async () => {
    role = 'replica';
    expect((await request('GET', '/users')).status).toBe(403);
    role = 'master';
    expect((await request('GET', '/users')).status).toBe(200);
  });
});
