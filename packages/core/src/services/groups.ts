import { groupRecordSchema, parseWith, type GroupRecord, type ReplyAttribute } from '@otpgate/shared';
import { allocateId, conflict, recordAdminAction, required, validateAttributes, type Actor, type ServiceContext } from './context.js';

/** Groups select reply attributes (and, with directory backends, policies). */
export class GroupService {
  constructor(private readonly ctx: ServiceContext) {}

  private get store() {
    return this.ctx.store;
  }

  find(name: string): GroupRecord | undefined {
    const row = this.store.db.first(this.store.db.q.selectFrom('groups').select('id').where('name', '=', name));
    return row && this.store.read('group', String(row.id));
  }

  get(name: string): GroupRecord {
    return required(this.find(name), 'group', name);
  }

  add(input: { name: string; description?: string; attributes?: ReplyAttribute[] }, actor: Actor): GroupRecord {
    this.store.assertWritable();
    const record = this.store.db.transaction(() => {
      // the name as it will be stored: "vpn " must meet "vpn" here, not the table's UNIQUE constraint
      if (this.find(input.name.trim())) conflict(`group "${input.name.trim()}" already exists`);
      const valid = parseWith(
        groupRecordSchema,
        {
          id: allocateId(this.store, 'groups'),
          name: input.name.trim(),
          description: input.description ?? '',
          attributes: validateAttributes(this.ctx.dictionary, input.attributes ?? []),
        },
        'group',
      );
      this.store.commit([{ entity: 'group', op: 'upsert', data: valid }]);
      return valid;
    });
    recordAdminAction(this.ctx, actor, 'group.add', record.name, { after: record });
    return record;
  }

  update(name: string, patch: { description?: string; attributes?: ReplyAttribute[] }, actor: Actor): GroupRecord {
    this.store.assertWritable();
    let before: GroupRecord | undefined;
    const record = this.store.db.transaction(() => {
      const current = this.get(name);
      before = current;
      const valid = parseWith(
        groupRecordSchema,
        {
          ...current,
          description: patch.description ?? current.description,
          attributes: patch.attributes ? validateAttributes(this.ctx.dictionary, patch.attributes) : current.attributes,
        },
        'group',
      );
      this.store.commit([{ entity: 'group', op: 'upsert', data: valid }]);
      return valid;
    });
    recordAdminAction(this.ctx, actor, 'group.update', name, { before, after: record });
    return record;
  }

  remove(name: string, actor: Actor): void {
    this.store.assertWritable();
    const group = this.get(name);
    this.store.commit([{ entity: 'group', op: 'delete', key: String(group.id) }]);
    recordAdminAction(this.ctx, actor, 'group.remove', name, { before: group });
  }

  list(): GroupRecord[] {
    return this.store.readAll('group');
  }
}
