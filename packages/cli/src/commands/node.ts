import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import {
  AuthRepository,
  StoreHealth,
  BUILTIN_ADMIN,
  CLI_ACTOR,
  BackendRegistry,
  Metrics,
  Store,
  authenticate,
  createAuthPorts,
  policyNote,
  createServices,
  loadDictionary,
} from '@otpgate/core';
import { REJECT_REASON_TEXT, formatListenAddress, formatTime, loadNodeConfig } from '@otpgate/shared';
import { cliLogger, configPath, loadConfig, withAdmin, type GlobalOptions } from '../context.js';
import { terminalQr } from '../output.js';
import { obtainPassword, readStdinLine } from '../prompt.js';
import { createAdminCertificate } from '../admin-certificate.js';
import { generatePassword } from './admin.js';

/** Config keys whose values are credentials (metrics.bearer_token, notify.ntfy.token, notify.webhooks[].secret, notify.mail.password). */
const CONFIG_SECRET_KEYS = new Set(['bearer_token', 'token', 'secret', 'password']);

function configText(dataDir: string, listen: string[], extra: string): string {
  return `# otpgate node configuration. Every setting has a default: see README.md, "Configuration".
node:
  # name: otp1            # shown in logs and metrics; defaults to the host name
  data_dir: ${JSON.stringify(dataDir)}
radius:
  listen: [${listen.map((l) => JSON.stringify(l)).join(', ')}]
log:
  level: info
${extra}`;
}

/** Write a config file unless one exists. */
function ensureConfigFile(path: string, dataDir: string, listen: string[], extra = ''): void {
  if (existsSync(path)) return;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, configText(dataDir, listen, extra), { mode: 0o640 });
}

/** The demo keeps its web servers on loopback: it is a demo, not a node to reach from elsewhere. */
const DEMO_WEB = `admin:
  listen: ["127.0.0.1:8443"]
metrics:
  listen: ["127.0.0.1:9812"]
`;
const DEMO_ADMIN_PASSWORD = 'demo-admin-password';

export function registerNodeCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('init')
    .description('make this machine an otpgate master: data folder, key file, database, config file, admin UI certificate')
    .option('--data-dir <dir>', 'where the database and key live (default: from the config, /var/lib/otpgate)')
    .option('--admin-password-stdin', 'read the web UI admin password from standard input (default: asked, or generated)')
    .action(async (o: { dataDir?: string; adminPasswordStdin?: boolean }) => {
      const { path } = configPath(globals());
      if (o.dataDir && !existsSync(path)) ensureConfigFile(path, resolve(o.dataDir), ['0.0.0.0:1812', '[::]:1812']);
      const config = loadNodeConfig(path, false);
      const dataDir = o.dataDir ? resolve(o.dataDir) : config.node.data_dir;
      if (!existsSync(path)) ensureConfigFile(path, dataDir, ['0.0.0.0:1812', '[::]:1812']);
      const store = await Store.create(dataDir);
      try {
        const services = createServices({ store, dictionary: loadDictionary(config.radius.dictionaries), logger: cliLogger(config) });
        const typed = o.adminPasswordStdin ? await readStdinLine('admin password') : await obtainPassword({}, `admin ${BUILTIN_ADMIN}`);
        const password = typed ?? generatePassword();
        await services.admins.setPassword(BUILTIN_ADMIN, password, CLI_ACTOR);
        if (!typed) console.log(`admin account "${BUILTIN_ADMIN}", password (shown only now): ${password}`);
        if (config.admin.enabled) {
          const { info, fingerprint } = await createAdminCertificate(store.dataDir);
          console.log(`admin UI certificate: self-signed for ${info.names}, valid until ${formatTime(info.validTo)}`);
          console.log(`  SHA-256 fingerprint ${fingerprint} (what the browser shows; or install your own: otpgate admin set-certificate)`);
        }
      } finally {
        store.close();
      }
      console.log(`otpgate initialised: data in ${dataDir}, config ${path}`);
      console.log('next: otpgate client add NAME ADDRESS --generate-secret, otpgate user add NAME, otpgate token add NAME, otpgate serve');
    });

  program
    .command('serve')
    .description('serve RADIUS (and, per role, the master or replica services) until stopped')
    .action(async () => {
      await (await import('../serve.js')).serve(loadConfig(globals()));
    });

  program
    .command('demo')
    .description('a working node in one step: a demo user with a token, a client for 127.0.0.1, then serve')
    .option('--dir <dir>', 'where the demo node lives', '.otpgate-demo')
    .option('--listen <address>', 'RADIUS address:port', '127.0.0.1:1812')
    .action(async (o: { dir: string; listen: string }) => {
      const dir = resolve(o.dir);
      const configFile = join(dir, 'otpgate.yaml');
      const fresh = !existsSync(join(dir, 'otpgate.db'));
      if (fresh) {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        ensureConfigFile(configFile, '.', [o.listen], DEMO_WEB);
        (await Store.create(dir)).close();
      }
      const config = loadNodeConfig(configFile, true);
      const logger = cliLogger(config);
      const store = await Store.open(config.node.data_dir);
      const services = createServices({ store, dictionary: loadDictionary(config.radius.dictionaries), logger });
      let uri: string;
      if (fresh) {
        services.clients.add({ name: 'localhost', address: '127.0.0.1', secret: 'testing123' }, CLI_ACTOR);
        services.clients.add({ name: 'localhost6', address: '::1', secret: 'testing123' }, CLI_ACTOR);
        await services.users.add({ username: 'demo', display_name: 'Demo User', password: 'demo-password' }, CLI_ACTOR);
        uri = services.tokens.add('demo', { label: 'demo phone' }, CLI_ACTOR).uri;
        await services.admins.setPassword(BUILTIN_ADMIN, DEMO_ADMIN_PASSWORD, CLI_ACTOR);
      } else {
        // the demo prints its one user's token on every start; real tokens are shown only when made
        uri = services.tokens.uriOf(services.tokens.list('demo')[0]!.id);
      }
      store.close();
      const listen = config.radius.listen.map(formatListenAddress).join(', ');
      const port = config.radius.listen[0]?.port ?? 1812;
      console.log(`otpgate demo node in ${relative(process.cwd(), dir) || '.'} (config ${configFile})`);
      console.log('');
      console.log('Demo user "demo", password "demo-password". Scan the token into an authenticator app:');
      console.log(await terminalQr(uri));
      console.log(uri);
      console.log('');
      console.log(`RADIUS on ${listen}, client 127.0.0.1 / ::1 with shared secret "testing123". Try:`);
      console.log(`  radtest -t pap demo "demo-password<6-digit code>" 127.0.0.1:${port} 0 testing123`);
      const admin = config.admin.listen[0];
      if (config.admin.enabled && admin) {
        console.log(`Admin UI: https://${formatListenAddress(admin)}/ (user "admin", password "${DEMO_ADMIN_PASSWORD}"; self-signed certificate)`);
      }
      console.log('Stop with Ctrl-C; start again with the same command (the demo keeps its data).');
      console.log('');
      await (await import('../serve.js')).serve(config);
    });

  program
    .command('check <username> <password-and-code>')
    .description('authenticate a user offline, as RADIUS would (a matching code is used up)')
    .action(async (username: string, passwordAndCode: string) => {
      await withAdmin(globals(), async ({ store, logger }) => {
        const settings = () => store.settings();
        const repository = new AuthRepository(store, settings, { maxCachedUsers: 100, health: new StoreHealth(logger) });
        const backends = new BackendRegistry(logger);
        backends.configure(settings());
        const ports = createAuthPorts({ repository, backends, metrics: new Metrics({ processMetrics: false }), logger, settings });
        const client = { name: 'cli', mode: null, backends: null, singleFactor: false };
        const decision = await authenticate({ username, password: passwordAndCode, state: undefined, client }, ports).finally(() => backends.close());
        repository.close();
        if (decision.outcome === 'accept') {
          const how = decision.policy ? `, ${policyNote(decision.policy)}` : '';
          console.log(`accept: ${decision.user.username}${decision.backend ? ` (password checked by ${decision.backend}${how})` : ''}`);
        } else if (decision.outcome === 'challenge') {
          console.log(`challenge: password accepted; ${decision.prompt}`);
        } else {
          console.log(`reject: ${decision.reason} (${REJECT_REASON_TEXT[decision.reason]})${decision.detail ? `: ${decision.detail}` : ''}`);
          process.exitCode = 1;
        }
      });
    });

  const config = program.command('config').description('the node configuration file');
  config
    .command('check [file]')
    .description('validate a config file and print the result with every default filled in')
    .action((file: string | undefined) => {
      const path = file ? resolve(file) : configPath(globals()).path;
      const parsed = loadNodeConfig(path, true);
      console.log(`${path}: valid`);
      // tokens, passwords and signing secrets are credentials: say that they are set, not what they are
      console.log(JSON.stringify(parsed, (k, v: unknown) => (CONFIG_SECRET_KEYS.has(k) && typeof v === 'string' ? '[set]' : v), 2));
    });
}
