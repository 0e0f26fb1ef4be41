import { createHmac } from 'node:crypto';
import { createWriteStream, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { dirname, join, resolve } from 'node:path';
import { OtpgateError, SealError, errorMessage } from '@otpgate/shared';
import { Database } from '../store/database.js';
import { DATA_FILES, Store, type NodeRole } from '../store/store.js';
import { loadKeyFile } from '../store/key-file.js';
import { CLUSTER_FILES, type ClusterFile } from '../store/cluster-files.js';
import { packArchive, unpackArchive, type ArchiveFile, type BackupManifest } from './archive.js';
import { checkPassphraseStrength, openBackup, sealBackup } from './backup-file.js';

export class BackupError extends OtpgateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('backup', message, options);
  }
}

export class RestoreError extends OtpgateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('restore', message, options);
  }
}

/** Private cluster files: key material, so in a backup only with the node key. */
const PRIVATE_CLUSTER_FILES: readonly ClusterFile[] = ['caKey', 'serverKey', 'clientKey', 'feedPrivateKey'];
const PUBLIC_CLUSTER_FILES: readonly ClusterFile[] = ['caCert', 'serverCert', 'clientCert', 'feedPublicKey'];
const clusterName = (f: ClusterFile) => `cluster/${CLUSTER_FILES[f]}`;
const KEY_MATERIAL = new Set<string>([DATA_FILES.key, ...PRIVATE_CLUSTER_FILES.map(clusterName)]);
const ALLOWED = new Set<string>([DATA_FILES.database, DATA_FILES.state, ...KEY_MATERIAL, ...PUBLIC_CLUSTER_FILES.map(clusterName)]);

/** Meta that describes the running process of the backed-up node, not its data. */
const PROCESS_META = ['ops_endpoints'];

/** Names a node key without revealing it: lets a restore check that a key file is the right one. */
export function keyId(key: Buffer): string {
  return createHmac('sha256', key).update('otpgate node key id').digest('hex').slice(0, 16);
}

export interface BackupResult {
  manifest: Omit<BackupManifest, 'files'>;
  users: number;
  /** The backup file's size. */
  bytes: number;
}

/**
 * Write an encrypted backup of a node's data to `out` while the node serves. SQLite's online backup API copies every
 * page in one step (one read transaction, so no write of the serving process lands half in the copy, and none is
 * blocked) into a private folder beside `out` (not /tmp, often a RAM disk: a million users make gigabytes), checked,
 * then packed, encrypted and written a chunk at a time, never whole in memory, to a temporary file that takes `out`'s
 * name once complete (an existing `out` is kept unless `force`). The key file and the cluster's private keys are
 * added only with `includeKeys`.
 */
export async function writeBackup(
  dataDir: string,
  out: string,
  passphrase: string,
  options: { includeKeys: boolean; node: string; version: string; force?: boolean },
): Promise<BackupResult> {
  checkPassphraseStrength(passphrase);
  const dbPath = join(dataDir, DATA_FILES.database);
  if (!existsSync(dbPath)) throw new BackupError(`no database at ${dbPath}: nothing to back up (check node.data_dir in the config)`);
  const key = loadKeyFile(join(dataDir, DATA_FILES.key));
  const work = mkdtempSync(join(dirname(out), '.otpgate-backup-'));
  try {
    const copyPath = join(work, DATA_FILES.database);
    await onlineCopy(dbPath, copyPath);
    // the state database (replay steps, lockouts, the auth log): a node written before it existed has none
    const statePath = join(dataDir, DATA_FILES.state);
    const stateCopyPath = join(work, DATA_FILES.state);
    const hasState = existsSync(statePath);
    if (hasState) await onlineCopy(statePath, stateCopyPath);
    const copy = await Database.open(copyPath, { readonly: true });
    let role: NodeRole;
    let headSeq: number;
    let users: number;
    try {
      const meta = (k: string) => (copy.sqlite.prepare('select value from node_meta where key = ?').get(k) as { value: string } | undefined)?.value;
      role = meta('role') === 'replica' ? 'replica' : 'master';
      headSeq = (copy.sqlite.prepare('select coalesce(max(seq), 0) as seq from changes').get() as { seq: number }).seq;
      users = (copy.sqlite.prepare('select count(*) as n from users').get() as { n: number }).n;
    } finally {
      copy.close();
    }
    const files: ArchiveFile[] = [{ name: DATA_FILES.database, path: copyPath }];
    if (hasState) files.push({ name: DATA_FILES.state, path: stateCopyPath });
    if (options.includeKeys) files.push({ name: DATA_FILES.key, content: Buffer.from(key.toString('hex') + '\n') });
    const clusterFiles = options.includeKeys ? [...PUBLIC_CLUSTER_FILES, ...PRIVATE_CLUSTER_FILES] : PUBLIC_CLUSTER_FILES;
    for (const f of clusterFiles) {
      const path = join(dataDir, clusterName(f));
      if (existsSync(path)) files.push({ name: clusterName(f), content: readFileSync(path) });
    }
    const manifest: Omit<BackupManifest, 'files'> = {
      format: 'otpgate-backup-content',
      version: 1,
      created_at: new Date().toISOString(),
      node: options.node,
      role,
      otpgate_version: options.version,
      head_seq: headSeq,
      key_id: keyId(key),
      includes_keys: options.includeKeys,
    };
    const sealed = join(work, 'backup');
    await pipeline(
      Readable.from(sealBackup(await packArchive(manifest, files), passphrase, { includesKeys: options.includeKeys })),
      createWriteStream(sealed, { mode: 0o600, flags: 'wx' }),
    );
    const bytes = statSync(sealed).size;
    if (options.force) renameSync(sealed, out);
    else linkSync(sealed, out); // refuses an existing file, as a new file opened with "wx" would
    return { manifest, users, bytes };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export interface RestoreOptions {
  /** Replace a node already in the data folder (its files are kept beside, renamed). */
  force?: boolean;
  /**
   * Where the node key (and the cluster's private keys) come from when the backup holds none: a copy of the original
   * data folder, or the key file itself. Default: what is already in the data folder.
   */
  keysFrom?: string;
}

export interface RestoreResult {
  manifest: BackupManifest;
  role: NodeRole;
  headSeq: number;
  users: number;
  keySource: 'backup' | 'keys-from' | 'data-dir';
  /** Files moved aside because --force replaced them. */
  setAside: string[];
  /** Cluster private keys neither in the backup nor given: what the operator must still do. */
  warnings: string[];
}

function readKeyCandidate(path: string): Buffer {
  try {
    return loadKeyFile(path);
  } catch (err) {
    throw new RestoreError(errorMessage(err), { cause: err });
  }
}

/** SQLite's online backup of one file, checked: every page in one step, in one read transaction. */
async function onlineCopy(path: string, copyPath: string): Promise<void> {
  const source = await Database.open<unknown>(path, { readonly: true });
  try {
    // first step 0 pages (to learn the size), then all the rest at once
    await source.sqlite.backup(copyPath, { progress: () => 0x7fffffff });
  } catch (err) {
    throw new BackupError(`the online copy of ${path} failed: ${errorMessage(err)}`, { cause: err });
  } finally {
    source.close();
  }
  const copy = await Database.open<unknown>(copyPath, { readonly: true });
  try {
    const check = copy.sqlite.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new BackupError(`the copy of ${path} failed its integrity check: ${String(check)}`);
  } finally {
    copy.close();
  }
}

/**
 * Put a backup's files into a data folder: refuses a folder that already holds a node unless `force` (before
 * decrypting anything), decrypts and unpacks the backup a chunk at a time, the databases straight into files beside
 * their final names (checked against their digests and the file's authentication tag before anything is used),
 * checks that the node key matches the one the database is sealed under, renames the databases into place (never a
 * half-written otpgate.db), then opens the store and reads its sealed records to prove the key fits.
 */
export async function restoreBackup(dataDir: string, backupFile: string, passphrase: string, options: RestoreOptions = {}): Promise<RestoreResult> {
  const dbPath = join(dataDir, DATA_FILES.database);
  const statePath = join(dataDir, DATA_FILES.state);
  if (existsSync(dbPath) && !options.force) {
    throw new RestoreError(
      `${dataDir} already holds a node (${DATA_FILES.database}); restoring replaces it. Stop that node, then run again with --force (its files are kept beside, renamed *.before-restore-…)`,
    );
  }
  const { content } = await openBackup(backupFile, passphrase);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const staged = new Map<string, string>([
    [DATA_FILES.database, `${dbPath}.restoring`],
    [DATA_FILES.state, `${statePath}.restoring`],
  ]);
  for (const path of staged.values()) rmSync(path, { force: true });
  try {
    const { manifest, files } = await unpackArchive(content, (name) => ALLOWED.has(name), (name) => staged.get(name));
    return await placeRestored(dataDir, manifest, files, staged, options);
  } finally {
    for (const path of staged.values()) rmSync(path, { force: true });
  }
}

/** restoreBackup once the backup is unpacked and checked: the databases are at their `staged` paths. */
async function placeRestored(
  dataDir: string,
  manifest: BackupManifest,
  files: Map<string, Buffer>,
  staged: Map<string, string>,
  options: RestoreOptions,
): Promise<RestoreResult> {
  const dbPath = join(dataDir, DATA_FILES.database);
  const statePath = join(dataDir, DATA_FILES.state);
  if (!manifest.files.some((f) => f.name === DATA_FILES.database)) throw new RestoreError('the backup holds no database');

  // the key: from the backup, from --keys-from, or the one already here; it must be the one the database was sealed under
  let key: Buffer;
  let keySource: RestoreResult['keySource'];
  let keysDir: string | undefined;
  const packed = files.get(DATA_FILES.key);
  if (packed) {
    key = Buffer.from(packed.toString('utf8').trim(), 'hex');
    keySource = 'backup';
  } else if (options.keysFrom) {
    const from = resolve(options.keysFrom);
    const isDir = existsSync(from) && statSync(from).isDirectory();
    keysDir = isDir ? from : undefined;
    key = readKeyCandidate(isDir ? join(from, DATA_FILES.key) : from);
    keySource = 'keys-from';
  } else if (existsSync(join(dataDir, DATA_FILES.key))) {
    key = readKeyCandidate(join(dataDir, DATA_FILES.key));
    keySource = 'data-dir';
  } else {
    throw new RestoreError(
      'this backup was made without --include-key: the secrets in its database are sealed under the original node\'s key file. ' +
        `Give it with --keys-from (the original data folder, or its ${DATA_FILES.key}), or copy it to ${join(dataDir, DATA_FILES.key)} first`,
    );
  }
  if (keyId(key) !== manifest.key_id) {
    throw new RestoreError(
      `the key file (${keySource === 'backup' ? 'in the backup' : keySource === 'keys-from' ? options.keysFrom : join(dataDir, DATA_FILES.key)}) is not the key this backup's database is sealed under ` +
        `(key id ${keyId(key)}, the backup needs ${manifest.key_id}): use the key file of the node the backup was taken on`,
    );
  }

  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const setAside: string[] = [];
  const moveAside = (path: string) => {
    if (!existsSync(path)) return;
    const target = `${path}.before-restore-${stamp}`;
    renameSync(path, target);
    setAside.push(target);
  };
  if (options.force) {
    for (const suffix of ['', '-wal', '-shm']) moveAside(dbPath + suffix);
    for (const suffix of ['', '-wal', '-shm']) moveAside(statePath + suffix);
    if (keySource !== 'data-dir') moveAside(join(dataDir, DATA_FILES.key));
    moveAside(join(dataDir, 'cluster'));
  }

  // the key first (a database without its key is useless), then cluster files, then the database by rename
  const keyPath = join(dataDir, DATA_FILES.key);
  if (keySource !== 'data-dir') writeFileSync(keyPath, key.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  const warnings: string[] = [];
  for (const [name, content] of files) {
    if (!name.startsWith('cluster/')) continue;
    mkdirSync(join(dataDir, 'cluster'), { recursive: true, mode: 0o700 });
    writeFileSync(join(dataDir, name), content, { mode: KEY_MATERIAL.has(name) ? 0o600 : 0o644 });
  }
  const hasCluster = [...files.keys()].some((n) => n.startsWith('cluster/'));
  if (hasCluster && !manifest.includes_keys) {
    for (const f of PRIVATE_CLUSTER_FILES) {
      const source = keysDir ? join(keysDir, clusterName(f)) : undefined;
      if (source && existsSync(source)) writeFileSync(join(dataDir, clusterName(f)), readFileSync(source), { mode: 0o600 });
    }
    const missing = PRIVATE_CLUSTER_FILES.filter((f) => !existsSync(join(dataDir, clusterName(f))))
      .filter((f) => (manifest.role === 'master' ? f !== 'clientKey' : f === 'clientKey'))
      .map(clusterName);
    if (missing.length > 0) {
      warnings.push(
        manifest.role === 'master'
          ? `the cluster's private keys (${missing.join(', ')}) were not restored: copy them from the original data folder, or run "otpgate cluster init" and re-enrol every replica`
          : `the replica's client key (${missing.join(', ')}) was not restored: enrol it again ("otpgate cluster add-replica" on the master, "otpgate replica join BUNDLE --force" here)`,
      );
    }
  }
  // the state database first (a backup made before it existed has none: the node starts with an empty one)
  if (manifest.files.some((f) => f.name === DATA_FILES.state)) renameSync(staged.get(DATA_FILES.state)!, statePath);
  renameSync(staged.get(DATA_FILES.database)!, dbPath);

  let store: Store;
  try {
    store = await Store.open(dataDir);
  } catch (err) {
    throw new RestoreError(`the restored database does not open: ${errorMessage(err)}`, { cause: err });
  }
  try {
    for (const k of PROCESS_META) store.db.run(store.db.q.deleteFrom('node_meta').where('key', '=', k));
    // read what is sealed: proves the key fits before anyone relies on this node
    store.settings();
    store.readAll('client');
    for (const token of store.scan('token')) void token; // each one unsealed, a page at a time
    const users = store.userCount();
    return { manifest, role: store.role, headSeq: store.head().seq, users, keySource, setAside, warnings };
  } catch (err) {
    if (err instanceof SealError) throw new RestoreError(`the restored secrets do not open with this key: ${err.message}`, { cause: err });
    throw err;
  } finally {
    store.close();
  }
}
