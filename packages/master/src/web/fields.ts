/**
 * Form controls, each with its label and hint, for every web app. One helper (labelled) gives every control its id
 * (from its name, with anything an id should not hold replaced, numbered per page render by withElementId), its
 * <label for> and the aria-describedby of its hint, so a select or a checkbox is as accessible as a text field.
 */
import { html, withElementId, type Html, type HtmlValue } from './html.js';
import type { Session } from './sessions.js';

/** What every control may have: a hint below it, tied to it with aria-describedby. */
export interface ControlOptions {
  hint?: string;
}

export interface FieldOptions extends ControlOptions {
  type?: string;
  value?: string | number | null;
  required?: boolean;
  autocomplete?: string;
  inputmode?: string;
  pattern?: string;
  placeholder?: string;
  /** The id of a <datalist> with suggestions. */
  list?: string;
}

/** The id a control named `name` is given (before its number within the page). */
export function controlIdBase(name: string): string {
  return `f-${name.replace(/[^A-Za-z0-9_-]/g, '-')}`;
}

/**
 * A control with its label and hint. `control` gets the id and the attributes that tie the hint to it; a checkbox
 * comes before its label, every other control after it.
 */
function labelled(label: string, name: string, options: ControlOptions, control: (id: string, describedBy: Html) => Html, layout: 'stacked' | 'check' = 'stacked'): Html {
  return withElementId(controlIdBase(name), (id) => {
    const hintId = `${id}-hint`;
    const describedBy = options.hint ? html` aria-describedby="${hintId}"` : html``;
    const hint = options.hint ? html`<small id="${hintId}">${options.hint}</small>` : html``;
    const labelTag = html`<label for="${id}">${label}</label>`;
    return layout === 'check'
      ? html`<div class="field check">${control(id, describedBy)}
${labelTag}${hint}</div>`
      : html`<div class="field">${labelTag}
${control(id, describedBy)}
${hint}</div>`;
  });
}

/** ` name="value"` when the value is set, nothing otherwise (names come from this file only). */
function attribute(name: string, value: string | undefined): HtmlValue {
  return value ? html` ${name}="${value}"` : '';
}

/** A labelled input. */
export function field(label: string, name: string, options: FieldOptions = {}): Html {
  return labelled(label, name, options, (id, describedBy) =>
    html`<input id="${id}" name="${name}" type="${options.type ?? 'text'}"${options.value !== undefined && options.value !== null ? html` value="${String(options.value)}"` : ''}${options.required ? html` required` : ''}${attribute('autocomplete', options.autocomplete)}${attribute('inputmode', options.inputmode)}${attribute('pattern', options.pattern)}${attribute('placeholder', options.placeholder)}${attribute('list', options.list)}${describedBy}>`,
  );
}

/** A labelled file upload (the form needs enctype="multipart/form-data"). */
export function fileField(label: string, name: string, options: ControlOptions & { accept?: string; required?: boolean } = {}): Html {
  return labelled(label, name, options, (id, describedBy) =>
    html`<input id="${id}" name="${name}" type="file"${attribute('accept', options.accept)}${options.required ? html` required` : ''}${describedBy}>`,
  );
}

export function select(label: string, name: string, choices: ReadonlyArray<readonly [string, string]>, selected: string | undefined, hint?: string): Html {
  return labelled(label, name, { hint }, (id, describedBy) =>
    html`<select id="${id}" name="${name}"${describedBy}>${choices.map(
      ([value, text]) => html`<option value="${value}"${value === selected ? html` selected` : ''}>${text}</option>`,
    )}</select>`,
  );
}

export function checkbox(label: string, name: string, checked: boolean, hint?: string): Html {
  return labelled(
    label,
    name,
    { hint },
    (id, describedBy) => html`<input id="${id}" type="checkbox" name="${name}" value="on"${checked ? html` checked` : ''}${describedBy}>`,
    'check',
  );
}

export function textarea(label: string, name: string, value: string, options: ControlOptions & { rows?: number } = {}): Html {
  return labelled(label, name, options, (id, describedBy) => html`<textarea id="${id}" name="${name}" rows="${options.rows ?? 6}"${describedBy}>${value}</textarea>`);
}

/** A problem list above a form. */
export function problems(list: readonly string[]): Html {
  if (list.length === 0) return html``;
  return html`<div class="problems" role="alert"><p>Please correct:</p><ul>${list.map((p) => html`<li>${p}</li>`)}</ul></div>`;
}

/** The session's CSRF token, as a form's hidden field (checked on every state-changing request). */
export function csrfField(session: Session<unknown>): Html {
  return html`<input type="hidden" name="_csrf" value="${session.csrf}">`;
}
