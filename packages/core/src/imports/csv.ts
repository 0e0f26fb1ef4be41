import { InvalidInputError } from '@otpgate/shared';

/** One record of a CSV file with the (1-based) line it starts on, for verdicts people can find in the file. */
export interface CsvRecord {
  line: number;
  cells: string[];
}

/**
 * RFC 4180 CSV: quoted cells may hold commas, doubled quotes and line breaks; CRLF or LF; a UTF-8 byte order mark
 * (Excel writes one) is dropped. Blank lines are skipped. Written by hand: one pass over the text, fast enough for
 * 100,000 rows, and it knows the line every record starts on.
 */
export function parseCsv(text: string, source = 'CSV'): CsvRecord[] {
  const records: CsvRecord[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const startLine = line;
    const cells: string[] = [];
    let endOfRecord = false;
    while (!endOfRecord) {
      let cell = '';
      if (text[i] === '"') {
        i++;
        for (;;) {
          if (i >= n) throw new InvalidInputError(`a quoted cell opened on line ${startLine} is never closed`, source);
          const q = text.indexOf('"', i);
          if (q < 0) throw new InvalidInputError(`a quoted cell opened on line ${startLine} is never closed`, source);
          const chunk = text.slice(i, q);
          cell += chunk;
          line += countNewlines(chunk);
          if (text[q + 1] === '"') {
            cell += '"';
            i = q + 2;
          } else {
            i = q + 1;
            break;
          }
        }
        // after the closing quote only a separator or the end of the record may follow
        if (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
          throw new InvalidInputError(`line ${line}: unexpected text after a closing quote (a quote inside a cell must be doubled)`, source);
        }
      } else {
        let j = i;
        while (j < n && text[j] !== ',' && text[j] !== '\n' && text[j] !== '\r') j++;
        cell = text.slice(i, j);
        i = j;
      }
      cells.push(cell);
      if (i >= n) endOfRecord = true;
      else if (text[i] === ',') i++;
      else {
        if (text[i] === '\r') i++;
        if (text[i] === '\n') i++;
        line++;
        endOfRecord = true;
      }
    }
    if (!(cells.length === 1 && cells[0]!.trim() === '')) records.push({ line: startLine, cells });
  }
  return records;
}

function countNewlines(s: string): number {
  let count = 0;
  for (let k = s.indexOf('\n'); k >= 0; k = s.indexOf('\n', k + 1)) count++;
  return count;
}

/** A header cell as a column key: trimmed, lower case, inner spaces collapsed ("Serial Number" = "serial number"). */
export function columnKey(header: string): string {
  return header.trim().toLowerCase().replace(/[\s_]+/g, ' ');
}

/**
 * A CSV cell for writing. Quoted when needed; a cell a spreadsheet would run as a formula (=, +, -, @) gets a
 * leading apostrophe, so an exported display name cannot become a formula in someone's spreadsheet.
 */
export function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function csvLine(values: readonly string[]): string {
  return values.map(csvCell).join(',') + '\r\n';
}
