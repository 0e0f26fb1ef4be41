/**
 * HTML built with a tagged template that escapes every interpolated value unless it is itself Html: pages cannot
 * forget to escape, and there is no template language to learn. Arrays are joined; null, undefined and false render
 * as nothing (handy for conditional fragments).
 *
 * An Html keeps its text until it is rendered (`value`), apart from the few places that need an element id unique in
 * the page (a form field's label, input and hint: withElementId). Those ids are numbered when the page is rendered,
 * in document order, so they depend on the page alone and not on what the process rendered before it.
 */

/** The element ids of one render: numbered within it. */
export class ElementIds {
  private count = 0;

  next(base: string): string {
    return `${base}-${++this.count}`;
  }
}

/** Text, or markup that needs ids from the render it is part of. */
export type HtmlPart = string | ((ids: ElementIds) => string);

export class Html {
  /** Made by html``, trusted() and withElementId(). */
  constructor(readonly parts: readonly HtmlPart[]) {}

  /** The markup: each call is one render, with its own element ids. */
  get value(): string {
    return this.render(new ElementIds());
  }

  toString(): string {
    return this.value;
  }

  render(ids: ElementIds): string {
    let out = '';
    for (const part of this.parts) out += typeof part === 'string' ? part : part(ids);
    return out;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);
}

export type HtmlValue = Html | string | number | boolean | null | undefined | readonly HtmlValue[];

/** Adds a text to the parts, joined to the text before it. */
function pushText(parts: HtmlPart[], text: string): void {
  const last = parts.length - 1;
  if (typeof parts[last] === 'string') parts[last] += text;
  else parts.push(text);
}

function addValue(parts: HtmlPart[], value: HtmlValue): void {
  if (value === null || value === undefined || value === false) return;
  if (value instanceof Html) {
    for (const part of value.parts) {
      if (typeof part === 'string') pushText(parts, part);
      else parts.push(part);
    }
  } else if (Array.isArray(value)) {
    for (const v of value as readonly HtmlValue[]) addValue(parts, v);
  } else {
    pushText(parts, escapeHtml(String(value)));
  }
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  const parts: HtmlPart[] = [strings[0] ?? ''];
  values.forEach((v, i) => {
    addValue(parts, v);
    pushText(parts, strings[i + 1] ?? '');
  });
  return new Html(parts);
}

/**
 * Markup that needs an element id unique in its page (a label's `for`, an `aria-describedby`): `build` gets
 * `${base}-N`, N counted within the render of the page it is part of.
 */
export function withElementId(base: string, build: (id: string) => Html): Html {
  return new Html([(ids) => build(ids.next(base)).render(ids)]);
}

/** Markup that is already safe (an SVG QR code made by the qrcode library). Never for user input. */
export function trusted(markup: string): Html {
  return new Html([markup]);
}
