import type { GroupRecord, ReplyAttribute } from '@otpgate/shared';
import type { Logger } from '../logger.js';
import type { Dictionary } from './dictionary.js';
import { errorMessage } from '@otpgate/shared';

interface Encoded {
  /** Base attribute names (lower case), so a user's own attribute replaces a group's of the same name. */
  names: Set<string>;
  wire: Array<{ name: string; bytes: Buffer }>;
}

const USER_CACHE_LIMIT = 50_000;

/**
 * Reply attributes for an Access-Accept: the user's groups' attributes, then the user's own (which replace a
 * group's attribute of the same name). Encoded once and cached: they change only when an admin edits them.
 */
export class ReplyAttributeEncoder {
  private groups = new Map<string, Encoded>();
  private readonly users = new Map<string, Encoded>();

  constructor(
    private readonly dictionary: Dictionary,
    private readonly logger: Logger,
  ) {}

  setGroups(groups: readonly GroupRecord[]): void {
    this.groups = new Map(groups.map((g) => [g.name.toLowerCase(), this.encode(g.attributes, `group ${g.name}`)]));
  }

  forUser(groupNames: readonly string[], userAttributesJson: string): Buffer[] {
    const own = this.userAttributes(userAttributesJson);
    const out: Buffer[] = [];
    for (const name of groupNames) {
      const group = this.groups.get(name.toLowerCase());
      if (!group) continue;
      for (const a of group.wire) if (!own.names.has(a.name)) out.push(a.bytes);
    }
    for (const a of own.wire) out.push(a.bytes);
    return out;
  }

  private userAttributes(json: string): Encoded {
    let found = this.users.get(json);
    if (!found) {
      found = this.encode(JSON.parse(json) as ReplyAttribute[], 'a user');
      if (this.users.size >= USER_CACHE_LIMIT) this.users.clear();
      this.users.set(json, found);
    }
    return found;
  }

  private encode(attributes: readonly ReplyAttribute[], owner: string): Encoded {
    const out: Encoded = { names: new Set(), wire: [] };
    for (const a of attributes) {
      try {
        const name = (a.name.split(':')[0] ?? a.name).toLowerCase();
        out.wire.push({ name, bytes: this.dictionary.encode(a) });
        out.names.add(name);
      } catch (err) {
        // validated when saved; a dictionary change since then must not break logins
        this.logger.warn({ owner, attribute: a.name, err: errorMessage(err) }, 'reply attribute skipped');
      }
    }
    return out;
  }
}
