import { createHash } from 'node:crypto';
import { ConflictError, InvalidInputError, OtpgateError } from '@otpgate/shared';
import type { Change } from '../store/store.js';
import { IdSequence, recordAdminAction, type Actor, type ServiceContext } from '../services/context.js';
import { parseAzureCsv, planAzureRows, type AzureCsvOptions } from './azure-csv.js';
import { ImportLookup } from './lookup.js';
import { planPskcEntries, readPskc, type PskcKeys } from './pskc.js';
import { countVerdicts, type ImportCounts, type ImportFormat, type ImportPreview, type ImportProgress, type ImportResult, type PlannedRow } from './types.js';
import { parseUsersCsv, planUsersRows, type UsersCsvOptions } from './users-csv.js';

export type ImportInput =
  | { format: 'azure-csv'; text: string; options?: AzureCsvOptions }
  | { format: 'pskc'; text: string; options?: PskcKeys }
  | { format: 'users-csv'; text: string; options?: UsersCsvOptions };

export interface ImportCommitOptions {
  /** Write the good rows even though some have errors (the error rows are left out). */
  skipErrors?: boolean;
  /** With an input (not a preview object): the digest of the preview the admin saw. */
  expectDigest?: string;
  onProgress?: ImportProgress;
}

/** Nothing was written: the preview had error rows and skipping them was not asked for. */
export class ImportRefusedError extends OtpgateError {
  constructor(readonly counts: ImportCounts, first: { line: number; reason?: string } | undefined, unit: string) {
    super(
      'import-refused',
      `${counts.error} of ${counts.total} rows have errors${first ? ` (first: ${unit} ${first.line}: ${first.reason})` : ''}; nothing was written. ` +
        'Fix them and import again, or import the other rows and leave the errors out',
    );
  }
}

/** A file read and decoded once, planned against the store as it is at preview and again at commit. */
interface ParsedImport {
  format: ImportFormat;
  unit: ImportPreview['unit'];
  notes: string[];
  plan(lookup: ImportLookup): { rows: PlannedRow[]; prelude?: (ids: IdSequence) => Change[] };
}

/** Changes applied through Store.commit per call, inside the one import transaction (the progress bar moves per call). */
const COMMIT_CHUNK = 5000;

/**
 * Previews handed out: the parsed input (committing a preview neither re-reads nor re-decrypts the file) and the plan
 * with the change log head it was made at. Every change to users, groups, settings or the inventory moves that head,
 * so while it has not moved the plan still holds and need not be made again.
 */
interface PreviewState {
  parsed: ParsedImport;
  plan: ReturnType<ParsedImport['plan']>;
  head: string;
}
const previews = new WeakMap<ImportPreview, PreviewState>();

/**
 * Token and user imports, in two steps for the CLI and the admin UI alike: `preview` says per row what would happen
 * and writes nothing; `commit` plans again inside one write transaction (the store may have changed), refuses if
 * the verdicts differ from the preview the admin saw, and writes every change through Store.commit, so the import
 * reaches replicas on the change feed and a failure anywhere leaves the store as it was.
 */
export class ImportService {
  constructor(private readonly ctx: ServiceContext) {}

  private get store() {
    return this.ctx.store;
  }

  private parse(input: ImportInput): ParsedImport {
    switch (input.format) {
      case 'azure-csv': {
        const rows = parseAzureCsv(input.text);
        const options = input.options ?? {};
        return { format: input.format, unit: 'line', notes: [], plan: (lookup) => ({ rows: planAzureRows(rows, lookup, options) }) };
      }
      case 'pskc': {
        const { entries, notes } = readPskc(input.text, input.options ?? {});
        return { format: input.format, unit: 'key package', notes, plan: (lookup) => ({ rows: planPskcEntries(entries, lookup) }) };
      }
      case 'users-csv': {
        const { rows, notes } = parseUsersCsv(input.text);
        const options = input.options ?? {};
        return { format: input.format, unit: 'line', notes, plan: (lookup) => planUsersRows(rows, lookup, options) };
      }
      default:
        throw new InvalidInputError(`unknown import format "${(input as { format: string }).format}"`, 'format');
    }
  }

  private toPreview(parsed: ParsedImport, rows: readonly PlannedRow[]): ImportPreview {
    const plain = rows.map(({ line, verdict, reason, summary }) => (reason === undefined ? { line, verdict, summary } : { line, verdict, reason, summary }));
    const digest = createHash('sha256').update(parsed.format);
    for (const r of plain) digest.update(`\n${r.line}\t${r.verdict}\t${r.reason ?? ''}\t${r.summary}`);
    return { format: parsed.format, unit: parsed.unit, rows: plain, counts: countVerdicts(plain), notes: parsed.notes, digest: digest.digest('hex') };
  }

  /** What an import would do, row by row. Nothing is written. */
  preview(input: ImportInput, onProgress?: ImportProgress): ImportPreview {
    const parsed = this.parse(input);
    const head = this.headMark();
    const plan = parsed.plan(new ImportLookup(this.store));
    onProgress?.('preview', plan.rows.length, plan.rows.length);
    const preview = this.toPreview(parsed, plan.rows);
    previews.set(preview, { parsed, plan, head });
    return preview;
  }

  private headMark(): string {
    const head = this.store.head();
    return `${head.seq}:${head.hash}`;
  }

  /** Write an import, all or nothing: a preview from `preview`, or the input again (with `expectDigest`). */
  commit(source: ImportPreview | ImportInput, actor: Actor, options: ImportCommitOptions = {}): ImportResult {
    this.store.assertWritable();
    const fromPreview = 'digest' in source;
    const saved = fromPreview ? previews.get(source) : undefined;
    if (fromPreview && !saved) throw new InvalidInputError('this preview was not made by this process: preview the file again, or pass the file with the digest');
    const parsed = saved?.parsed ?? this.parse(source as ImportInput);
    const expected = fromPreview ? source.digest : options.expectDigest;

    const result = this.store.db.transaction((): ImportResult => {
      // planned again unless nothing at all changed since the preview (then the preview's plan is this plan)
      const plan = saved && saved.head === this.headMark() ? saved.plan : parsed.plan(new ImportLookup(this.store));
      const preview = this.toPreview(parsed, plan.rows);
      if (expected !== undefined && preview.digest !== expected) {
        throw new ConflictError('the users, groups or inventory changed since the preview, so some verdicts would differ: preview the file again');
      }
      if (preview.counts.error > 0 && !options.skipErrors) {
        throw new ImportRefusedError(preview.counts, preview.rows.find((r) => r.verdict === 'error'), parsed.unit);
      }
      const ids = new IdSequence(this.store);
      const changes = [...(plan.prelude?.(ids) ?? [])];
      for (const row of plan.rows) if (row.verdict !== 'error' && row.write) changes.push(...row.write(ids));
      ids.finish();
      // one transaction (this one); Store.commit in slices only so that progress can be shown between them
      for (let i = 0; i < changes.length; i += COMMIT_CHUNK) {
        this.store.commit(changes.slice(i, i + COMMIT_CHUNK));
        options.onProgress?.('commit', Math.min(i + COMMIT_CHUNK, changes.length), changes.length);
      }
      const written = { users: 0, tokens: 0, hardware_tokens: 0, groups: 0 };
      for (const c of changes) {
        if (c.entity === 'user') written.users++;
        else if (c.entity === 'token') written.tokens++;
        else if (c.entity === 'hardware_token') written.hardware_tokens++;
        else if (c.entity === 'group') written.groups++;
      }
      return { format: parsed.format, counts: preview.counts, written, changes: changes.length, head_seq: this.store.headSeq() };
    });
    recordAdminAction(this.ctx, actor, `import.${parsed.format}`, `${result.counts.total} rows`, { details: { counts: result.counts, written: result.written } });
    return result;
  }
}
