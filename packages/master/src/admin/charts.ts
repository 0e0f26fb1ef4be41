/**
 * The dashboard's charts of requests per 5 minutes over a day, drawn on the server as SVG: no script, and nothing the
 * CSP (style-src 'self') refuses — the colours are classes of assets/style.css, the shapes plain SVG attributes.
 * Accepts are bars up from the middle line, rejects bars down from it, stacked by reason, each half on its own scale.
 * Each chart is an image with a name and a summary for screen readers, and its numbers are a table under it.
 */
import { AUTH_BUCKET_MS, type AuthBucketCount } from '@otpgate/shared';
import { html, type Html } from '../web/html.js';
import { dataTable } from './layout.js';

export interface ChartSeries {
  key: string;
  label: string;
}

/** The accepts, then the common reject reasons, then the rest as one: each has its colour in every chart. */
export const CHART_SERIES: readonly ChartSeries[] = [
  { key: 'accept', label: 'accepted' },
  { key: 'bad-code', label: 'bad-code' },
  { key: 'bad-password', label: 'bad-password' },
  { key: 'unknown-user', label: 'unknown-user' },
  { key: 'locked', label: 'locked' },
  { key: 'backend-error', label: 'backend-error' },
  { key: 'other', label: 'other reasons' },
];
const REJECTS = CHART_SERIES.slice(1);

/** The series a count belongs to; challenges and dropped requests are not charted. */
export function seriesOf(count: Pick<AuthBucketCount, 'result' | 'reason'>): number | undefined {
  if (count.result === 'accept') return 0;
  if (count.result !== 'reject') return undefined;
  const i = CHART_SERIES.findIndex((s) => s.key === count.reason);
  return i > 0 ? i : CHART_SERIES.length - 1;
}

export interface TimelineInput {
  /** Unique within the page: the chart's element ids start with it. */
  id: string;
  title: string;
  /** The first bucket's start (ms since the epoch); `buckets` buckets of AUTH_BUCKET_MS follow. */
  from: number;
  buckets: number;
  counts: readonly AuthBucketCount[];
}

/** The counts by bucket and series: `table[bucket][series]`. Counts outside the chart's time are left out. */
export function tabulate(input: Pick<TimelineInput, 'from' | 'buckets' | 'counts'>): number[][] {
  const table = Array.from({ length: input.buckets }, () => CHART_SERIES.map(() => 0));
  for (const c of input.counts) {
    const i = (c.bucket - input.from) / AUTH_BUCKET_MS;
    const s = seriesOf(c);
    if (s !== undefined && Number.isInteger(i) && i >= 0 && i < input.buckets) table[i]![s]! += c.count;
  }
  return table;
}

/** The series with a count anywhere in these tables: the legend and the table columns show only those. */
export function seriesPresent(tables: readonly number[][][]): ChartSeries[] {
  return CHART_SERIES.filter((_, s) => tables.some((t) => t.some((row) => row[s]! > 0)));
}

export const VIEW = { width: 800, height: 240, left: 52, right: 8, top: 10, bottom: 26 } as const;
const PLOT_HEIGHT = VIEW.height - VIEW.top - VIEW.bottom;
const PLOT_WIDTH = VIEW.width - VIEW.left - VIEW.right;

/** The smallest of 1, 2, 5, 10, 20, 50... not below n (0 for 0): the scale's round top. */
export function niceCeiling(n: number): number {
  if (n <= 0) return 0;
  const power = 10 ** Math.floor(Math.log10(n));
  return [1, 2, 5, 10].map((m) => m * power).find((v) => v >= n)!;
}

export interface Bar {
  series: number;
  bucket: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Geometry {
  /** The top of each half's scale: accepts up, rejects down. */
  up: number;
  down: number;
  /** The middle line's y. */
  zeroY: number;
  bars: Bar[];
}

const round = (v: number) => Math.round(v * 100) / 100;

/**
 * Where each bar goes: accepts up from the middle line, each bucket's rejects down from it in series order. Each half
 * has its own scale: rejects are mostly a small share of the requests, and a burst of them must show all the same.
 */
export function layout(table: readonly number[][]): Geometry {
  const up = niceCeiling(Math.max(0, ...table.map((row) => row[0]!)));
  const down = niceCeiling(Math.max(0, ...table.map((row) => row.slice(1).reduce((a, b) => a + b, 0))));
  const half = PLOT_HEIGHT / 2;
  const zeroY = VIEW.top + half;
  const unitUp = up === 0 ? 0 : half / up;
  const unitDown = down === 0 ? 0 : half / down;
  const width = PLOT_WIDTH / table.length;
  const bars: Bar[] = [];
  table.forEach((row, bucket) => {
    const x = round(VIEW.left + bucket * width);
    if (row[0]! > 0) bars.push({ series: 0, bucket, x, y: round(zeroY - row[0]! * unitUp), width: round(width), height: round(row[0]! * unitUp) });
    let below = zeroY;
    for (let s = 1; s < row.length; s++) {
      if (row[s]! === 0) continue;
      bars.push({ series: s, bucket, x, y: round(below), width: round(width), height: round(row[s]! * unitDown) });
      below += row[s]! * unitDown;
    }
  });
  return { up, down, zeroY: round(zeroY), bars };
}

/** 1500 as 1.5k: the scale's labels stay short enough for a phone. */
export function compact(n: number): string {
  if (n >= 1_000_000) return `${n / 1_000_000}M`;
  if (n >= 1000) return `${n / 1000}k`;
  return String(n);
}

const clock = (ms: number) => new Date(ms).toISOString().slice(11, 16);
const thousands = (n: number) => n.toLocaleString('en-US');

/** The hours on the time axis: every 3 hours, the ones between every 6 hours marked minor (hidden on a phone). */
function timeTicks(from: number, buckets: number): Html[] {
  const step = 3 * 3600_000;
  const ticks: Html[] = [];
  for (let t = Math.ceil(from / step) * step; t < from + buckets * AUTH_BUCKET_MS; t += step) {
    const x = round(VIEW.left + ((t - from) / (buckets * AUTH_BUCKET_MS)) * PLOT_WIDTH);
    // none where the label would run into the "UTC" label or off the right edge
    if (x < VIEW.left + 40 || x > VIEW.width - 40) continue;
    const minor = t % (2 * step) !== 0;
    const bottom = VIEW.height - VIEW.bottom;
    ticks.push(html`<g${minor ? html` class="minor"` : ''}><line class="axis" x1="${x}" x2="${x}" y1="${bottom}" y2="${bottom + 4}"/><text x="${x}" y="${VIEW.height - 4}" text-anchor="middle">${clock(t)}</text></g>`);
  }
  return ticks;
}

/** One sentence for screen readers: the totals, by reason, and the busiest 5 minutes. */
function summary(table: readonly number[][], from: number): string {
  const totals = CHART_SERIES.map((_, s) => table.reduce((sum, row) => sum + row[s]!, 0));
  const rejected = totals.slice(1).reduce((a, b) => a + b, 0);
  if (totals[0]! + rejected === 0) return 'No requests accepted or rejected in the last 24 hours.';
  const reasons = REJECTS.map((r, i) => ({ label: r.label, n: totals[i + 1]! })).filter((r) => r.n > 0);
  const sums = table.map((row) => row.reduce((a, b) => a + b, 0));
  const busiest = sums.indexOf(Math.max(...sums));
  return (
    `${thousands(totals[0]!)} accepted and ${thousands(rejected)} rejected in the last 24 hours` +
    (reasons.length > 0 ? ` (${reasons.map((r) => `${r.label} ${thousands(r.n)}`).join(', ')})` : '') +
    `; the busiest 5 minutes from ${clock(from + busiest * AUTH_BUCKET_MS)} UTC with ${thousands(sums[busiest]!)}.`
  );
}

/** The chart's numbers, newest first, only the 5 minutes that had requests. */
function numbers(input: TimelineInput, table: readonly number[][], columns: readonly ChartSeries[]): Html {
  const rows = table
    .map((row, bucket) => ({ row, bucket }))
    .filter(({ row }) => row.some((n) => n > 0))
    .reverse()
    .map(({ row, bucket }) => [
      clock(input.from + bucket * AUTH_BUCKET_MS),
      ...columns.map((c) => thousands(row[CHART_SERIES.indexOf(c)]!)),
      thousands(row.slice(1).reduce((a, b) => a + b, 0)),
    ]);
  return html`<details><summary>The numbers behind ${input.title}</summary>
${dataTable(`Requests per 5 minutes, ${input.title}, newest first (UTC)`, ['From', ...columns.map((c) => (c.key === 'accept' ? c.label : `rejected: ${c.label}`)), 'rejected'], rows)}</details>`;
}

/** Which colour stands for what: the series shown in any of the page's charts, as a sentence. */
function chartLegend(series: readonly ChartSeries[]): Html {
  const key = (s: ChartSeries) => html`<span class="key"><span class="swatch s-${s.key}" aria-hidden="true"></span>${s.label}</span>`;
  const keys = (list: readonly ChartSeries[]) => list.map((s, i) => html`${i > 0 ? ', ' : ''}${key(s)}`);
  const accepts = series.filter((s) => s.key === 'accept');
  const rejects = series.filter((s) => s.key !== 'accept');
  return html`<p class="legend">${accepts.length > 0 ? html`Bars up (scale at the top): ${keys(accepts)}. ` : ''}${rejects.length > 0 ? html`Bars down (scale at the bottom), rejected by reason: ${keys(rejects)}.` : ''}</p>`;
}

/** A day's requests of one node (or all) as a figure: the chart, named and summarised, and its numbers' table. */
function figure(input: TimelineInput, table: readonly number[][], columns: readonly ChartSeries[]): Html {
  const { up, down, zeroY, bars } = layout(table);
  const paths = CHART_SERIES.map((s, i) => {
    const d = bars.filter((b) => b.series === i).map((b) => `M${b.x} ${b.y}h${b.width}v${b.height}h${-b.width}z`);
    return d.length === 0 ? '' : html`<path class="s-${s.key}" d="${d.join('')}"/>`;
  });
  const right = VIEW.width - VIEW.right;
  const bottom = VIEW.height - VIEW.bottom;
  // the scale's labels inside the plot's height, below its top line and above its bottom one (larger on a phone)
  const label = (y: number, n: number, baseline: string) => html`<text x="${VIEW.left - 6}" y="${y}" text-anchor="end" dominant-baseline="${baseline}">${compact(n)}</text>`;
  const scale = [
    up > 0 ? html`<line class="grid" x1="${VIEW.left}" x2="${right}" y1="${VIEW.top}" y2="${VIEW.top}"/>${label(VIEW.top, up, 'hanging')}` : '',
    down > 0 ? html`<line class="grid" x1="${VIEW.left}" x2="${right}" y1="${bottom}" y2="${bottom}"/>${label(bottom, down, 'text-after-edge')}` : '',
    label(zeroY, 0, 'middle'),
  ];
  const empty = up + down === 0 ? html`<text x="${VIEW.left + PLOT_WIDTH / 2}" y="${zeroY - 12}" text-anchor="middle">no requests in the last 24 hours</text>` : '';
  return html`<figure class="chart">
<figcaption>${input.title}</figcaption>
<svg viewBox="0 0 ${VIEW.width} ${VIEW.height}" width="${VIEW.width}" height="${VIEW.height}" role="img" aria-labelledby="${input.id}-name" aria-describedby="${input.id}-summary">
<title id="${input.id}-name">Requests per 5 minutes, ${input.title}</title>
<desc id="${input.id}-summary">${summary(table, input.from)}</desc>
${scale}${paths}
<line class="axis" x1="${VIEW.left}" x2="${right}" y1="${zeroY}" y2="${zeroY}"/>
${timeTicks(input.from, input.buckets)}<text x="2" y="${VIEW.height - 4}">UTC</text>${empty}
</svg>
${numbers(input, table, columns)}
</figure>`;
}

/**
 * Charts of a day's requests (one per node, say) under one legend: the series drawn in any of them, in the same
 * colours in each. Each table has a column for each of those series.
 */
export function timelineCharts(inputs: readonly TimelineInput[]): Html {
  const tables = inputs.map(tabulate);
  const series = seriesPresent(tables);
  return html`${series.length > 0 ? chartLegend(series) : ''}${inputs.map((input, i) => figure(input, tables[i]!, series))}`;
}
