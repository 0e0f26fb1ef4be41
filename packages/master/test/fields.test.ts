import { describe, expect, it } from 'vitest';
import { html, type Html } from '../src/web/html.js';
import { checkbox, field, fileField, select, textarea } from '../src/web/fields.js';

/** The attribute values of every `name="..."` in the markup, in order. */
function attributes(markup: string, name: string): string[] {
  return [...markup.matchAll(new RegExp(`\\s${name}="([^"]*)"`, 'g'))].map((m) => m[1]!);
}

/** Every control of every kind, each with a name an id may not hold as it is, and a hint. */
function everyControl(name: string): Html[] {
  return [
    field('A field', name, { hint: 'hint' }),
    fileField('A file', name, { hint: 'hint' }),
    select('A choice', name, [['a', 'A'], ['b', 'B']], 'b', 'hint'),
    checkbox('A box', name, true, 'hint'),
    textarea('A text', name, 'x', { hint: 'hint' }),
  ];
}

describe('form controls: one way to an id, a label and a hint', () => {
  it('gives field, fileField, select, checkbox and textarea the same cleaned id, with its label and hint tied to it', () => {
    for (const control of everyControl('attr:Filter-Id[0] x')) {
      const markup = control.value;
      const [id, ...more] = attributes(markup, 'id');
      expect(id, markup).toBe('f-attr-Filter-Id-0--x-1');
      expect(more, markup).toEqual([`${id}-hint`]);
      expect(attributes(markup, 'for'), markup).toEqual([id]);
      expect(attributes(markup, 'aria-describedby'), markup).toEqual([`${id}-hint`]);
      expect(attributes(markup, 'name'), markup).toEqual(['attr:Filter-Id[0] x']);
    }
  });

  it('numbers ids within one page, so that the same name twice on a page gets two ids and every label finds its control', () => {
    const page = html`<form>${everyControl('code')}</form><form>${field('Code', 'code')}${everyControl('code')}</form>`.value;
    const ids = attributes(page, 'id');
    expect(new Set(ids).size).toBe(ids.length);
    for (const target of [...attributes(page, 'for'), ...attributes(page, 'aria-describedby')]) expect(ids).toContain(target);
    expect(attributes(page, 'for')).toEqual(Array.from({ length: 11 }, (_, i) => `f-code-${i + 1}`));
  });

  it('renders the same page with the same ids every time, whatever was rendered before', () => {
    const page = () => html`<main>${field('User name', 'username')}${checkbox('Enabled', 'enabled', false)}</main>`;
    const first = page().value;
    for (let i = 0; i < 5; i++) everyControl('other').forEach((c) => c.value);
    expect(page().value).toBe(first);
    expect(attributes(first, 'id')).toEqual(['f-username-1', 'f-enabled-2']);
  });

  it('leaves out the hint and its reference when there is none, and still escapes what it is given', () => {
    const markup = select('Pick "one"', 'kind', [['<x>', 'a & b']], '<x>').value;
    expect(markup).not.toContain('aria-describedby');
    expect(markup).not.toContain('<small');
    expect(markup).toContain('<label for="f-kind-1">Pick &quot;one&quot;</label>');
    expect(markup).toContain('<option value="&lt;x&gt;" selected>a &amp; b</option>');
  });
});
