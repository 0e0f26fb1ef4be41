import { describe, expect, it } from 'vitest';
import { AUTH_BUCKET_MS, type AuthBucketCount } from '@otpgate/shared';
import { CHART_SERIES, VIEW, compact, type Bar, layout, niceCeiling, tabulate, timelineCharts, type TimelineInput } from '../src/admin/charts.js';

/** 12:00 UTC; four buckets from it. */
const FROM = Date.UTC(2030, 0, 1, 12);
const B = AUTH_BUCKET_MS;
const PLOT_HEIGHT = VIEW.height - VIEW.top - VIEW.bottom;
const series = (key: string) => CHART_SERIES.findIndex((s) => s.key === key);

const c = (bucket: number, result: AuthBucketCount['result'], reason: AuthBucketCount['reason'], count: number): AuthBucketCount => ({
  bucket: FROM + bucket * B,
  result,
  reason,
  count,
});
const input = (counts: AuthBucketCount[], over: Partial<TimelineInput> = {}): TimelineInput => ({ id: 'c1', title: 'otp1', from: FROM, buckets: 4, counts, ...over });

describe('chart data', () => {
  it('puts each count in its bucket and series: the rare reasons together as "other", challenges and drops left out', () => {
    const table = tabulate(
      input([
        c(0, 'accept', null, 10),
        c(0, 'reject', 'bad-code', 2),
        c(1, 'reject', 'replay', 1),
        c(1, 'reject', 'no-token', 4),
        c(1, 'challenge', null, 7),
        c(2, 'drop', 'backend-error', 3),
        c(3, 'reject', 'backend-error', 1),
        c(4, 'accept', null, 99), // after the chart's last bucket
        c(-1, 'accept', null, 99), // before its first
      ]),
    );
    const row = (entries: Record<string, number>) => CHART_SERIES.map((s) => entries[s.key] ?? 0);
    expect(table).toEqual([row({ accept: 10, 'bad-code': 2 }), row({ other: 5 }), row({}), row({ 'backend-error': 1 })]);
  });

  it('rounds the scale up to 1, 2 or 5 times a power of ten, and writes thousands short', () => {
    expect([0, 1, 2, 3, 7, 10, 11, 999, 1001].map(niceCeiling)).toEqual([0, 1, 2, 5, 10, 10, 20, 1000, 2000]);
    expect([0, 500, 2000, 50_000, 2_000_000].map(compact)).toEqual(['0', '500', '2k', '50k', '2M']);
  });
});

describe('bar heights', () => {
  it('draws accepts up and rejects down from the middle line, each half on its own scale, stacked by reason', () => {
    const table = tabulate(input([c(0, 'accept', null, 10), c(2, 'accept', null, 5), c(0, 'reject', 'bad-code', 2), c(0, 'reject', 'locked', 3), c(3, 'reject', 'bad-password', 4)]));
    const { up, down, zeroY, bars } = layout(table);
    // the scales: 10 up, 5 down (the most rejects in a bucket), each over half the plot
    expect({ up, down, zeroY }).toEqual({ up: 10, down: 5, zeroY: VIEW.top + PLOT_HEIGHT / 2 });
    const unitUp = PLOT_HEIGHT / 2 / 10;
    const unitDown = PLOT_HEIGHT / 2 / 5;
    const width = (VIEW.width - VIEW.left - VIEW.right) / 4;
    const bar = (s: string, bucket: number) => bars.find((b) => b.series === series(s) && b.bucket === bucket)!;
    /** The bar's geometry, to the SVG's 2 decimals. */
    const expectBar = (b: Bar, expected: Partial<Omit<Bar, 'series' | 'bucket'>>) => {
      for (const [k, v] of Object.entries(expected)) expect(b[k as keyof Bar], k).toBeCloseTo(v, 2);
    };
    expectBar(bar('accept', 0), { x: VIEW.left, y: VIEW.top, width, height: 10 * unitUp });
    expectBar(bar('accept', 2), { x: VIEW.left + 2 * width, y: zeroY - 5 * unitUp, height: 5 * unitUp });
    // the rejects of bucket 0: bad-code first, locked under it, down to the bottom (5 of 5)
    expectBar(bar('bad-code', 0), { y: zeroY, height: 2 * unitDown });
    expectBar(bar('locked', 0), { y: zeroY + 2 * unitDown, height: 3 * unitDown });
    expect(bar('locked', 0).y + bar('locked', 0).height).toBeCloseTo(VIEW.height - VIEW.bottom, 2);
    expectBar(bar('bad-password', 3), { x: VIEW.left + 3 * width, y: zeroY, height: 4 * unitDown });
    // nothing for a count of 0
    expect(bars).toHaveLength(5);
  });

  it('shows a few rejects among thousands of accepts', () => {
    const { bars } = layout(tabulate(input([c(0, 'accept', null, 5000), c(1, 'reject', 'bad-code', 1)])));
    expect(bars.find((b) => b.series === series('bad-code'))!.height).toBe(PLOT_HEIGHT / 2);
  });

  it('draws the same bars into the SVG, one path per series in its colour class, and no inline style (CSP)', () => {
    const out = timelineCharts([input([c(1, 'accept', null, 4), c(1, 'reject', 'unknown-user', 1)])]).value;
    const { bars } = layout(tabulate(input([c(1, 'accept', null, 4), c(1, 'reject', 'unknown-user', 1)])));
    const accept = bars.find((b) => b.series === 0)!;
    expect(out).toContain(`<path class="s-accept" d="M${accept.x} ${accept.y}h${accept.width}v${accept.height}h${-accept.width}z"/>`);
    expect(out).toMatch(/<path class="s-unknown-user" d="M[\d. ]+h[\d.]+v[\d.]+h-[\d.]+z"\/>/);
    expect(out).not.toMatch(/style=/);
    expect(out).not.toMatch(/<script/);
  });
});

describe('the rendered chart', () => {
  it('is an image named and summarised for screen readers, with the same numbers in a table, newest first', () => {
    const out = timelineCharts([input([c(0, 'accept', null, 1200), c(2, 'accept', null, 3), c(2, 'reject', 'bad-code', 2), c(2, 'reject', 'replay', 1)])]).value;
    expect(out).toContain('role="img" aria-labelledby="c1-name" aria-describedby="c1-summary"');
    expect(out).toContain('<title id="c1-name">Requests per 5 minutes, otp1</title>');
    expect(out).toContain(
      '<desc id="c1-summary">1,203 accepted and 3 rejected in the last 24 hours (bad-code 2, other reasons 1); the busiest 5 minutes from 12:00 UTC with 1,200.</desc>',
    );
    // the legend and the table's columns: only the series there are
    expect(out).toContain('Bars up (scale at the top): <span class="key"><span class="swatch s-accept" aria-hidden="true"></span>accepted</span>.');
    expect(out).toContain('Bars down (scale at the bottom), rejected by reason: <span class="key"><span class="swatch s-bad-code" aria-hidden="true"></span>bad-code</span>, <span class="key">');
    expect(out).not.toContain('s-locked');
    const rows = [...out.matchAll(/<tr>(.*?)<\/tr>/g)].map((m) => m[1]!.replace(/<\/?t[hd][^>]*>/g, '|'));
    expect(rows).toEqual([
      '|From||accepted||rejected: bad-code||rejected: other reasons||rejected|',
      '|12:10||3||2||1||3|',
      '|12:00||1,200||0||0||0|',
    ]);
    // the scale: 2k up, 5 down
    expect(out).toContain('text-anchor="end" dominant-baseline="hanging">2k</text>');
    expect(out).toContain('text-anchor="end" dominant-baseline="text-after-edge">5</text>');
  });

  it('escapes the node name wherever it is written', () => {
    const out = timelineCharts([input([c(0, 'accept', null, 1)], { title: '<img src=x onerror=alert(1)>"&' })]).value;
    expect(out).not.toContain('<img');
    expect(out).toContain('<figcaption>&lt;img src=x onerror=alert(1)&gt;&quot;&amp;</figcaption>');
    expect(out).toContain('Requests per 5 minutes, &lt;img src=x onerror=alert(1)&gt;&quot;&amp;</title>');
    expect(out).toContain('The numbers behind &lt;img');
  });

  it('says there were no requests when there were none, with an empty table and no legend', () => {
    const out = timelineCharts([input([c(1, 'challenge', null, 3)])]).value;
    expect(out).toContain('<desc id="c1-summary">No requests accepted or rejected in the last 24 hours.</desc>');
    expect(out).toContain('>no requests in the last 24 hours</text>');
    expect(out).toContain('<p class="empty">Requests per 5 minutes, otp1, newest first (UTC): none.</p>');
    expect(out).not.toContain('<path');
    expect(out).not.toContain('class="legend"');
    // the middle line in the middle
    expect(out).toContain(`y1="${VIEW.top + PLOT_HEIGHT / 2}"`);
  });

  it('marks the hours every 3 hours in UTC, those between 6-hour marks minor (hidden on a phone)', () => {
    // from 10:05 over a day: none at 10:05 itself (too near the "UTC" label)
    const from = Date.UTC(2030, 0, 1, 10, 5);
    const out = timelineCharts([input([], { from, buckets: 288 })]).value;
    const ticks = [...out.matchAll(/<g( class="minor")?><line[^>]*\/><text[^>]*>(\d\d:\d\d)<\/text><\/g>/g)].map((m) => `${m[2]}${m[1] ? ' minor' : ''}`);
    expect(ticks).toEqual(['12:00', '15:00 minor', '18:00', '21:00 minor', '00:00', '03:00 minor', '06:00', '09:00 minor']);
  });

  it('gives each of several charts its own ids, under one legend of what any of them shows', () => {
    const out = timelineCharts([
      input([c(0, 'accept', null, 1)], { id: 'chart-a', title: 'a' }),
      input([c(0, 'reject', 'locked', 1)], { id: 'chart-b', title: 'b' }),
    ]).value;
    expect(out.match(/class="legend"/g)).toHaveLength(1);
    expect(out).toContain('id="chart-a-name"');
    expect(out).toContain('id="chart-b-name"');
    expect(out.match(/<th scope="col">rejected: locked<\/th>/g)).toHaveLength(2);
  });
});
