import {
  SECRET_MASK,
  SETTINGS_SECRET_FIELDS,
  canonicalJson,
  parseCidr,
  problemsFromZod,
  settingsSchema,
  type ClientRecord,
  type GroupRecord,
  type HardwareTokenRecord,
  type Settings,
  type TokenRecord,
  type UserRecord,
  type ValidationProblem,
  errorMessage,
} from '@otpgate/shared';
import type { Dictionary } from '../radius/dictionary.js';
import type { Change, Store } from '../store/store.js';
import { MIN_CLIENT_SECRET_LENGTH } from '../services/clients.js';
import { validateAttributes, type IdSequence } from '../services/context.js';
import type { ConfigBody, ConfigSecrets } from './document.js';

/** Per entity: what an import would add, change, leave as it is and remove (by name). */
export interface EntityChanges {
  new: string[];
  changed: string[];
  unchanged: string[];
  removed: string[];
}

export interface ConfigImportSummary {
  settings: { changed: boolean; sections: string[] };
  groups: EntityChanges;
  clients: EntityChanges;
  /** Absent when the document has no users (the node's users are then left alone). */
  users?: EntityChanges;
  tokens?: EntityChanges;
  hardware_tokens?: EntityChanges;
  warnings: string[];
}

const empty = (): EntityChanges => ({ new: [], changed: [], unchanged: [], removed: [] });
const lower = (s: string) => s.toLowerCase();
const same = (a: unknown, b: unknown) => canonicalJson(a) === canonicalJson(b);
const sortedLower = (names: readonly string[]) => names.map(lower).sort();

/** Token identity across nodes is its secret; these fields may change without it becoming another token. */
const TOKEN_FIELDS = ['kind', 'algorithm', 'digits', 'period', 't0', 'counter', 'window_past', 'window_future', 'serial', 'label', 'active'] as const;
const HARDWARE_FIELDS = ['kind', 'algorithm', 'digits', 'period', 'counter', 'manufacturer', 'model', 'secret'] as const;

export interface ConfigPlan {
  summary: ConfigImportSummary;
  /** Problems that forbid the import (all of them, not just the first). */
  problems: ValidationProblem[];
  changes(ids: IdSequence): Change[];
}

/**
 * Compare a (validated, migrated) document with the store. Every section the document has is made equal to it:
 * missing entries are removed. Users, tokens and the inventory are touched only when the document has them.
 */
export function planConfigImport(store: Store, dictionary: Dictionary, body: ConfigBody, secrets: ConfigSecrets | undefined): ConfigPlan {
  const problems: ValidationProblem[] = [];
  const problem = (path: string, message: string) => problems.push({ path, message });
  const warnings: string[] = [];
  const summary: ConfigImportSummary = { settings: { changed: false, sections: [] }, groups: empty(), clients: empty(), warnings };
  const now = Date.now();

  // --- settings: secrets from the document, else kept from this node by backend name
  const currentSettings = store.settings();
  const incoming = structuredClone<Settings>(body.settings);
  incoming.backends = incoming.backends.map((b) => {
    const out: Record<string, unknown> = { ...b };
    for (const f of SETTINGS_SECRET_FIELDS) {
      if (!(f in out)) continue;
      const given = secrets?.backends[b.name]?.[f];
      if (given !== undefined) out[f] = given;
      else if (out[f] === SECRET_MASK || out[f] === '') {
        const kept = (currentSettings.backends.find((c) => c.name === b.name) as Record<string, unknown> | undefined)?.[f];
        if (typeof kept === 'string' && kept !== '') out[f] = kept;
        else {
          if (out[f] === SECRET_MASK) warnings.push(`backend ${b.name}: ${f} was left out of the export and this node has none; set it after the import (otpgate backend set-... ${b.name})`);
          out[f] = '';
        }
      }
    }
    return out as Settings['backends'][number];
  });
  const settingsCheck = settingsSchema.safeParse(incoming);
  if (!settingsCheck.success) for (const p of problemsFromZod(settingsCheck.error)) problem(`settings.${p.path}`, p.message);
  const settings = settingsCheck.success ? settingsCheck.data : incoming;
  summary.settings.sections = (Object.keys(settings) as (keyof Settings)[]).filter((k) => !same(settings[k], currentSettings[k]));
  summary.settings.changed = summary.settings.sections.length > 0;
  const backendNames = new Set(settings.backends.map((b) => b.name));

  // --- groups
  const currentGroups = new Map(store.readAll('group').map((g) => [lower(g.name), g]));
  const docGroups = new Map<string, ConfigBody['groups'][number]>();
  body.groups.forEach((g, i) => {
    if (docGroups.has(lower(g.name))) problem(`body.groups[${i}].name`, `group "${g.name}" is in the document twice`);
    docGroups.set(lower(g.name), g);
    try {
      validateAttributes(dictionary, g.attributes);
    } catch (err) {
      problem(`body.groups[${i}].${errorMessage(err).split(':')[0]}`, errorMessage(err));
    }
  });
  const groupWrites: Array<{ current?: GroupRecord; next: Omit<GroupRecord, 'id'> }> = [];
  for (const [key, g] of docGroups) {
    const current = currentGroups.get(key);
    if (!current) {
      summary.groups.new.push(g.name);
      groupWrites.push({ next: g });
    } else if (!same({ ...current, id: 0 }, { ...g, id: 0 })) {
      summary.groups.changed.push(g.name);
      groupWrites.push({ current, next: g });
    } else summary.groups.unchanged.push(g.name);
  }

  // --- clients
  const currentClients = new Map(store.readAll('client').map((c) => [lower(c.name), c]));
  const docClients = new Map<string, ClientRecord>();
  const addresses = new Map<string, string>();
  body.clients.forEach((c, i) => {
    const at = `body.clients[${i}]`;
    if (docClients.has(lower(c.name))) problem(`${at}.name`, `client "${c.name}" is in the document twice`);
    const cidr = parseCidr(c.address);
    if (typeof cidr === 'string') problem(`${at}.address`, cidr);
    const address = typeof cidr === 'string' ? c.address : cidr.text;
    if (addresses.has(address)) problem(`${at}.address`, `clients "${addresses.get(address)}" and "${c.name}" have the same address ${address}`);
    addresses.set(address, c.name);
    for (const b of c.backends ?? []) if (!backendNames.has(b)) problem(`${at}.backends`, `no backend named "${b}" in the document's settings`);
    const current = currentClients.get(lower(c.name));
    const secret = secrets?.clients[c.name] ?? current?.secret;
    if (secret === undefined) {
      problem(`${at}`, `client "${c.name}": its shared secret was left out of the export and this node has no client of that name; export with secrets`);
    } else if (secret.length < MIN_CLIENT_SECRET_LENGTH) {
      problem(`${at}.secret`, `client "${c.name}": the shared secret is shorter than ${MIN_CLIENT_SECRET_LENGTH} characters`);
    }
    docClients.set(lower(c.name), { ...c, address, secret: secret ?? '', id: current?.id ?? 0 });
  });
  const clientWrites: Array<{ current?: ClientRecord; next: ClientRecord }> = [];
  for (const [key, next] of docClients) {
    const current = currentClients.get(key);
    if (!current) summary.clients.new.push(next.name);
    else if (!same(current, next)) summary.clients.changed.push(next.name);
    else {
      summary.clients.unchanged.push(next.name);
      continue;
    }
    clientWrites.push({ current, next });
  }
  const clientRemovals = [...currentClients.values()].filter((c) => !docClients.has(lower(c.name)));
  summary.clients.removed = clientRemovals.map((c) => c.name);

  // --- users, tokens, inventory (only when the document has users)
  const currentUsers = body.users ? store.readAll('user') : [];
  const currentUserByName = new Map(currentUsers.map((u) => [lower(u.username), u]));
  const docUsers = new Map<string, NonNullable<ConfigBody['users']>[number]>();
  const userWrites: Array<{ current?: UserRecord; next: Omit<UserRecord, 'id'> }> = [];
  let removedUsers: UserRecord[] = [];
  let missingPasswords = 0;
  if (body.users) {
    const users = empty();
    summary.users = users;
    body.users.forEach((u, i) => {
      const at = `body.users[${i}]`;
      if (docUsers.has(lower(u.username))) problem(`${at}.username`, `user "${u.username}" is in the document twice`);
      docUsers.set(lower(u.username), u);
      for (const g of u.groups) if (!docGroups.has(lower(g))) problem(`${at}.groups`, `user "${u.username}" is in group "${g}", which the document does not have`);
      try {
        validateAttributes(dictionary, u.attributes);
      } catch (err) {
        problem(`${at}.attributes`, errorMessage(err));
      }
      const current = currentUserByName.get(lower(u.username));
      const { has_password, ...profile } = u;
      const password_hash = secrets?.users[u.username] ?? current?.password_hash ?? null;
      if (has_password && password_hash === null) missingPasswords++;
      const groups = profile.groups.map((g) => docGroups.get(lower(g))?.name ?? g);
      const next: Omit<UserRecord, 'id'> = { ...profile, groups, password_hash, created_at: current?.created_at ?? profile.created_at, updated_at: now };
      if (!current) {
        users.new.push(u.username);
        userWrites.push({ next });
        return;
      }
      const comparable = (r: Omit<UserRecord, 'id'> & { id?: number }) => ({ ...r, id: 0, groups: sortedLower(r.groups), updated_at: 0, created_at: 0 });
      if (same(comparable(current), comparable(next))) users.unchanged.push(u.username);
      else {
        users.changed.push(u.username);
        userWrites.push({ current, next: { ...next, username: current.username } });
      }
    });
    removedUsers = currentUsers.filter((u) => !docUsers.has(lower(u.username)));
    users.removed = removedUsers.map((u) => u.username);
    if (missingPasswords > 0) warnings.push(`${missingPasswords} user(s) had a local password that was not exported (export with secrets), and have none here: set new ones (otpgate user set-password)`);
  } else {
    // groups that users of this node still belong to are kept: the document does not say what becomes of those users
    const used = new Set(store.db.all(store.db.q.selectFrom('user_groups').innerJoin('groups', 'groups.id', 'user_groups.group_id').select('groups.name').distinct()).map((r) => lower(r.name)));
    for (const g of currentGroups.values()) {
      if (!docGroups.has(lower(g.name)) && used.has(lower(g.name))) {
        warnings.push(`group "${g.name}" is not in the document but users of this node belong to it: kept`);
        docGroups.set(lower(g.name), g);
      }
    }
  }
  const groupRemovals = [...currentGroups.values()].filter((g) => !docGroups.has(lower(g.name)));
  summary.groups.removed = groupRemovals.map((g) => g.name);

  // tokens: matched by user and secret
  const allTokens = body.tokens ? store.readAll('token') : [];
  const keptUserIds = new Set(currentUsers.filter((u) => docUsers.has(lower(u.username))).map((u) => u.id));
  const currentTokens = allTokens.filter((t) => keptUserIds.has(t.user_id));
  const userNameById = new Map(currentUsers.map((u) => [u.id, u.username]));
  const tokenName = (username: string, t: Pick<TokenRecord, 'label' | 'serial' | 'kind'>) => `${username}: ${t.label || t.kind}${t.serial ? ` (${t.serial})` : ''}`;
  const tokenWrites: Array<{ current?: TokenRecord; username: string; next: Omit<TokenRecord, 'id' | 'user_id'>; index: number }> = [];
  /** Replay state by document position: carried over so codes used before the move stay used. */
  const stateOf = new Map<number, { last_step: number; drift: number }>();
  const stateWrites: Array<{ tokenId: number; index: number }> = [];
  let tokenRemovals: TokenRecord[] = [];
  if (body.tokens) {
    const tokens = empty();
    summary.tokens = tokens;
    if (!secrets || secrets.tokens.length !== body.tokens.length) problem('secrets.tokens', 'the document has tokens but not their secrets');
    const matched = new Set<number>();
    const currentStates = new Map(store.readAll('token_state').map((st) => [st.token_id, st]));
    body.tokens.forEach((t, i) => {
      const at = `body.tokens[${i}]`;
      if (!docUsers.has(lower(t.username))) problem(`${at}.username`, `token of "${t.username}", a user the document does not have`);
      const secret = secrets?.tokens[i];
      if (secret === undefined) return;
      const { username, last_step, drift, ...fields } = t;
      if (last_step >= 0) stateOf.set(i, { last_step, drift });
      const owner = currentUserByName.get(lower(username));
      const current = owner ? currentTokens.find((c) => c.user_id === owner.id && c.secret === secret && !matched.has(c.id)) : undefined;
      const next = { ...fields, secret };
      if (!current) {
        tokens.new.push(tokenName(username, t));
        tokenWrites.push({ username, next, index: i });
        return;
      }
      matched.add(current.id);
      // a newer step in the document is applied whatever else changes (the store keeps the highest step anyway)
      const known = currentStates.get(current.id)?.last_step ?? -1;
      if (last_step > known) stateWrites.push({ tokenId: current.id, index: i });
      if (TOKEN_FIELDS.every((f) => current[f] === next[f])) tokens.unchanged.push(tokenName(username, t));
      else {
        tokens.changed.push(tokenName(username, t));
        tokenWrites.push({ current, username, next: { ...next, created_at: current.created_at }, index: i });
      }
    });
    tokenRemovals = currentTokens.filter((t) => !matched.has(t.id));
    tokens.removed = tokenRemovals.map((t) => tokenName(userNameById.get(t.user_id) ?? '?', t));
  }

  // hardware inventory: matched by serial
  const hardwareWrites: Array<{ current?: HardwareTokenRecord; next: Omit<HardwareTokenRecord, 'id' | 'token_id'>; holder: string | null }> = [];
  let hardwareRemovals: HardwareTokenRecord[] = [];
  const currentHardware = body.hardware_tokens ? store.readAll('hardware_token') : [];
  if (body.hardware_tokens) {
    const hardware = empty();
    summary.hardware_tokens = hardware;
    const bySerial = new Map(currentHardware.map((h) => [h.serial, h]));
    const holderOf = new Map(allTokens.map((t) => [t.id, userNameById.get(t.user_id)]));
    const seen = new Set<string>();
    body.hardware_tokens.forEach((h, i) => {
      const at = `body.hardware_tokens[${i}]`;
      if (seen.has(h.serial)) problem(`${at}.serial`, `serial ${h.serial} is in the document twice`);
      seen.add(h.serial);
      const secret = secrets?.hardware_tokens[h.serial];
      if (secret === undefined) {
        problem(`${at}`, `hardware token ${h.serial}: its secret is not in the document`);
        return;
      }
      if (h.assigned_to !== null && !body.tokens?.some((t) => lower(t.username) === lower(h.assigned_to!) && t.serial === h.serial)) {
        problem(`${at}.assigned_to`, `hardware token ${h.serial} is assigned to "${h.assigned_to}", who has no token with that serial in the document`);
      }
      const { assigned_to, ...fields } = h;
      const next = { ...fields, secret };
      const current = bySerial.get(h.serial);
      const currentHolder = current === undefined || current.token_id === null ? null : (holderOf.get(current.token_id) ?? null);
      if (!current) hardware.new.push(h.serial);
      else if (HARDWARE_FIELDS.every((f) => current[f] === next[f]) && lower(currentHolder ?? '') === lower(assigned_to ?? '')) {
        hardware.unchanged.push(h.serial);
        return;
      } else hardware.changed.push(h.serial);
      hardwareWrites.push({ current, next, holder: assigned_to });
    });
    hardwareRemovals = currentHardware.filter((h) => !seen.has(h.serial));
    hardware.removed = hardwareRemovals.map((h) => h.serial);
  }

  return {
    summary,
    problems,
    changes(ids) {
      const out: Change[] = [];
      if (summary.settings.changed) out.push({ entity: 'settings', op: 'upsert', data: settings });
      for (const w of groupWrites) out.push({ entity: 'group', op: 'upsert', data: { ...w.next, id: w.current?.id ?? ids.take('groups') } });
      // removed clients first: a new client may take over a removed one's address
      for (const c of clientRemovals) out.push({ entity: 'client', op: 'delete', key: String(c.id) });
      for (const w of clientWrites) out.push({ entity: 'client', op: 'upsert', data: { ...w.next, id: w.current?.id ?? ids.take('clients') } });

      // the hardware that removed users or tokens held goes back to the inventory, on every node
      const released = new Map<number, HardwareTokenRecord>();
      const gone = new Set([...tokenRemovals.map((t) => t.id)]);
      const removedUserIds = new Set(removedUsers.map((u) => u.id));
      const inventory = body.hardware_tokens ? currentHardware : store.readAll('hardware_token');
      const tokensOfRemoved = removedUserIds.size === 0 ? [] : (allTokens.length > 0 ? allTokens : store.readAll('token')).filter((t) => removedUserIds.has(t.user_id));
      for (const t of tokensOfRemoved) gone.add(t.id);
      for (const h of inventory) if (h.token_id !== null && gone.has(h.token_id)) released.set(h.id, { ...h, token_id: null });

      for (const u of removedUsers) out.push({ entity: 'user', op: 'delete', key: String(u.id) });
      const userIds = new Map(currentUsers.filter((u) => !removedUserIds.has(u.id)).map((u) => [lower(u.username), u.id]));
      for (const w of userWrites) {
        const id = w.current?.id ?? ids.take('users');
        userIds.set(lower(w.next.username), id);
        out.push({ entity: 'user', op: 'upsert', data: { ...w.next, id } });
      }
      for (const t of tokenRemovals) out.push({ entity: 'token', op: 'delete', key: String(t.id) });
      const states = [...stateWrites];
      // (user, serial) -> token id, to link the inventory to the tokens made from it
      const tokenBySerial = new Map<string, number>();
      for (const t of currentTokens) if (t.serial && !gone.has(t.id)) tokenBySerial.set(`${userNameById.get(t.user_id)?.toLowerCase()}\n${t.serial}`, t.id);
      for (const w of tokenWrites) {
        const userId = userIds.get(lower(w.username))!;
        const id = w.current?.id ?? ids.take('tokens');
        if (w.next.serial) tokenBySerial.set(`${lower(w.username)}\n${w.next.serial}`, id);
        out.push({ entity: 'token', op: 'upsert', data: { ...w.next, id, user_id: userId } });
        if (!w.current && stateOf.has(w.index)) states.push({ tokenId: id, index: w.index });
      }
      for (const st of states) out.push({ entity: 'token_state', op: 'upsert', data: { token_id: st.tokenId, ...stateOf.get(st.index)! } });
      for (const h of released.values()) if (!hardwareWrites.some((w) => w.current?.id === h.id)) out.push({ entity: 'hardware_token', op: 'upsert', data: h });
      for (const h of hardwareRemovals) out.push({ entity: 'hardware_token', op: 'delete', key: String(h.id) });
      for (const w of hardwareWrites) {
        const tokenId = w.holder === null ? null : (tokenBySerial.get(`${lower(w.holder)}\n${w.next.serial}`) ?? null);
        out.push({ entity: 'hardware_token', op: 'upsert', data: { ...w.next, id: w.current?.id ?? ids.take('hardware_tokens'), token_id: tokenId } });
      }
      for (const g of groupRemovals) out.push({ entity: 'group', op: 'delete', key: String(g.id) });
      return out;
    },
  };
}
