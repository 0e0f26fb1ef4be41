import type { Change } from '../store/store.js';
import type { IdSequence } from '../services/context.js';

export const IMPORT_FORMATS = ['azure-csv', 'pskc', 'users-csv'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

/**
 * What an import would do with one row: `new` and `update` are written, `unchanged` and `skip` (an entry that is
 * not a token, e.g. a PSKC PIN) are not, and `error` says why the row cannot be imported.
 */
export type RowVerdict = 'new' | 'update' | 'unchanged' | 'skip' | 'error';

export interface ImportRow {
  /** CSV: the line the row starts on; PSKC: the position of the KeyPackage (1-based). */
  line: number;
  verdict: RowVerdict;
  /** Why: for errors always, for skips and some updates too. Never holds a secret. */
  reason?: string;
  /** What the row is about, in a few words ("serial 1234 -> alice, totp 30 s"). Never holds a secret. */
  summary: string;
}

export type ImportCounts = Record<RowVerdict, number> & { total: number };

/** The preview shown before anything is written: a plain object the CLI prints and the admin UI can send as JSON. */
export interface ImportPreview {
  format: ImportFormat;
  /** How rows are numbered in `line`. */
  unit: 'line' | 'key package';
  rows: ImportRow[];
  counts: ImportCounts;
  /** File-level remarks (ignored columns, encryption used). */
  notes: string[];
  /** Identifies exactly this preview: a commit checks the store still gives the same verdicts. */
  digest: string;
}

export interface ImportResult {
  format: ImportFormat;
  counts: ImportCounts;
  /** Records written, per entity. */
  written: { users: number; tokens: number; hardware_tokens: number; groups: number };
  /** Entries added to the change log (what replicas receive). */
  changes: number;
  /** The change log head after the import. */
  head_seq: number;
}

/** A row as planned: its verdict, and for rows to write, how to turn them into changes once ids are known. */
export interface PlannedRow extends ImportRow {
  write?: (ids: IdSequence) => Change[];
}

/** Progress of a long import, for a progress bar: `done` of `total` in the named phase. */
export type ImportProgress = (phase: 'preview' | 'commit', done: number, total: number) => void;

export function countVerdicts(rows: readonly ImportRow[]): ImportCounts {
  const counts: ImportCounts = { total: rows.length, new: 0, update: 0, unchanged: 0, skip: 0, error: 0 };
  for (const r of rows) counts[r.verdict]++;
  return counts;
}
