import { InvalidInputError, clientRecordSchema, parseCidr, parseWith, type AuthMode, type ClientRecord } from '@otpgate/shared';
import { allocateId, conflict, recordAdminAction, required, type Actor, type ServiceContext } from './context.js';

export interface ClientInput {
  name: string;
  address: string;
  secret: string;
  require_message_authenticator?: boolean;
  auth_mode?: AuthMode | null;
  on_backend_error?: 'reject' | 'drop';
  /** This client's backend chain (names from the settings); null = the default. */
  backends?: string[] | null;
  single_factor?: boolean;
  description?: string;
}

/** Shared secrets shorter than this are refused: BlastRADIUS showed short ones fall to offline guessing. */
export const MIN_CLIENT_SECRET_LENGTH = 8;
export const RECOMMENDED_CLIENT_SECRET_LENGTH = 16;

/** A client as shown to admins: the shared secret masked. */
export type ClientView = Omit<ClientRecord, 'secret'> & { secret: string };

export function maskSecret(secret: string): string {
  return `${'*'.repeat(Math.min(secret.length, 8))} (${secret.length} characters)`;
}

/** RADIUS clients (NAS): address or CIDR block, shared secret and per-client options. */
export class ClientService {
  constructor(private readonly ctx: ServiceContext) {}

  private get store() {
    return this.ctx.store;
  }

  private find(name: string): ClientRecord | undefined {
    const row = this.store.db.first(this.store.db.q.selectFrom('clients').select('id').where('name', '=', name));
    return row && this.store.read('client', String(row.id));
  }

  get(name: string): ClientRecord {
    return required(this.find(name), 'client', name);
  }

  private validate(candidate: ClientRecord): ClientRecord {
    const cidr = parseCidr(candidate.address);
    if (typeof cidr === 'string') throw new InvalidInputError(cidr, 'address');
    if (candidate.secret.length < MIN_CLIENT_SECRET_LENGTH) {
      throw new InvalidInputError(
        `is ${candidate.secret.length} characters; use at least ${MIN_CLIENT_SECRET_LENGTH} (${RECOMMENDED_CLIENT_SECRET_LENGTH}+ random characters recommended)`,
        'secret',
      );
    }
    const known = new Set(this.store.settings().backends.map((b) => b.name));
    const unknown = candidate.backends?.find((b) => !known.has(b));
    if (unknown) throw new InvalidInputError(`no backend named "${unknown}" (known: ${[...known].join(', ')})`, 'backends');
    const record = parseWith(clientRecordSchema, { ...candidate, address: cidr.text }, 'client');
    const clash = this.store.db.first(
      this.store.db.q.selectFrom('clients').select('name').where('address', '=', record.address).where('id', '!=', record.id),
    );
    if (clash) conflict(`client "${clash.name}" already has address ${record.address}`);
    return record;
  }

  add(input: ClientInput, actor: Actor): ClientRecord {
    this.store.assertWritable();
    const record = this.store.db.transaction(() => {
      // the name as it will be stored: " nas" must meet "nas" here, not the table's UNIQUE constraint
      if (this.find(input.name.trim())) conflict(`client "${input.name.trim()}" already exists`);
      const valid = this.validate({
        id: allocateId(this.store, 'clients'),
        name: input.name.trim(),
        address: input.address,
        secret: input.secret,
        require_message_authenticator: input.require_message_authenticator ?? true,
        auth_mode: input.auth_mode ?? null,
        on_backend_error: input.on_backend_error ?? 'reject',
        backends: input.backends ?? null,
        single_factor: input.single_factor ?? false,
        description: input.description ?? '',
      });
      this.store.commit([{ entity: 'client', op: 'upsert', data: valid }]);
      return valid;
    });
    recordAdminAction(this.ctx, actor, 'client.add', record.name, { after: record });
    return record;
  }

  update(name: string, patch: Partial<Omit<ClientInput, 'name'>>, actor: Actor): ClientRecord {
    this.store.assertWritable();
    let before: ClientRecord | undefined;
    const record = this.store.db.transaction(() => {
      const current = this.get(name);
      before = current;
      const defined = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
      const valid = this.validate({ ...current, ...defined });
      this.store.commit([{ entity: 'client', op: 'upsert', data: valid }]);
      return valid;
    });
    recordAdminAction(this.ctx, actor, 'client.update', name, { before, after: record });
    return record;
  }

  remove(name: string, actor: Actor): void {
    this.store.assertWritable();
    const client = this.get(name);
    this.store.commit([{ entity: 'client', op: 'delete', key: String(client.id) }]);
    recordAdminAction(this.ctx, actor, 'client.remove', name, { before: client });
  }

  list(): ClientView[] {
    return this.store.readAll('client').map((c) => ({ ...c, secret: maskSecret(c.secret) }));
  }
}
