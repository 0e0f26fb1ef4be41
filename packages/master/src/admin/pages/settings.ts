import type { FastifyInstance } from 'fastify';
import { settingsSchema, type Settings } from '@otpgate/shared';
import { html } from '../../web/html.js';
import { checkbox, csrfField, field, textarea } from '../../web/fields.js';
import type { Ui } from '../ui.js';
import { type Form, formChecked, formText } from '../../web/form.js';

/** The sections edited here, field by field; lists and backends have their own pages. */
const SECTIONS: ReadonlyArray<{ key: 'otp' | 'lockout' | 'auth' | 'push' | 'enrollment'; title: string }> = [
  { key: 'otp', title: 'One-time codes' },
  { key: 'lockout', title: 'Lockout' },
  { key: 'auth', title: 'Login policy' },
  { key: 'push', title: 'Push approval' },
  // allow_additional_tokens: whether a user who has a token may add another in the portal (with password + code)
  { key: 'enrollment', title: 'Enrollment portal' },
];

type Scalar = string | number | boolean;
const isScalar = (v: unknown): v is Scalar => ['string', 'number', 'boolean'].includes(typeof v);

/** Form values back into the settings document, typed like the current values so the schema judges them. */
function fromForm(current: Settings, form: Form): unknown {
  const next = structuredClone(current) as unknown as Record<string, Record<string, unknown>>;
  for (const { key } of SECTIONS) {
    for (const [name, value] of Object.entries(next[key]!)) {
      if (!isScalar(value)) continue;
      const path = `${key}.${name}`;
      if (typeof value === 'boolean') next[key]![name] = formChecked(form, path);
      else if (typeof value === 'number') {
        const text = formText(form, path);
        next[key]![name] = /^-?\d+$/.test(text) ? Number(text) : text;
      } else next[key]![name] = formText(form, path);
    }
  }
  const initial = next.auth!.initial_login as Record<string, unknown>;
  initial.enabled = formChecked(form, 'auth.initial_login.enabled');
  for (const n of ['days', 'max_logins']) {
    const text = formText(form, `auth.initial_login.${n}`);
    initial[n] = /^\d+$/.test(text) ? Number(text) : text;
  }
  try {
    next.auth!.realms = JSON.parse(formText(form, 'auth.realms') || '[]') as unknown;
  } catch {
    next.auth!.realms = formText(form, 'auth.realms');
  }
  next.admin = { directory_backend: formText(form, 'admin.directory_backend'), directory_group: formText(form, 'admin.directory_group') };
  return next;
}

/** Settings, validated by the same schema as `otpgate settings set` and config import, so the messages are the same. */
export function registerSettingsPages(app: FastifyInstance, ui: Ui): void {
  const { services } = ui.deps;

  app.get(
    '/settings',
    ui.view((ctx) => {
      const s = services.settings.get();
      const defaults = settingsSchema.parse({});
      const sections = SECTIONS.map(({ key, title }) => {
        const values = s[key] as unknown as Record<string, unknown>;
        const fields = Object.entries(values).filter(([, v]) => isScalar(v));
        return html`<fieldset><legend>${title}</legend>${fields.map(([name, v]) => {
          const path = `${key}.${name}`;
          const label = name.replace(/_/g, ' ');
          const fallback = String((defaults[key] as unknown as Record<string, unknown>)[name]);
          return typeof v === 'boolean' ? checkbox(label, path, v, `default: ${fallback}`) : field(label, path, { value: String(v), hint: `default: ${fallback}` });
        })}</fieldset>`;
      });
      return ui.render(
        ctx,
        'Settings',
        '/settings',
        html`<form method="post" action="/settings">${csrfField(ctx.session)}
${sections}
<fieldset><legend>Initial login allowance</legend>
${checkbox('Enabled', 'auth.initial_login.enabled', s.auth.initial_login.enabled, 'a new user without a token may log in with the password alone, to enrol')}
${field('Days after creation', 'auth.initial_login.days', { value: s.auth.initial_login.days })}
${field('At most this many logins', 'auth.initial_login.max_logins', { value: s.auth.initial_login.max_logins })}
</fieldset>
<fieldset><legend>Realms</legend>
${textarea('Realms (JSON)', 'auth.realms', JSON.stringify(s.auth.realms, null, 2), { rows: 5, hint: '[{"name": "example.com", "aliases": ["EXAMPLE"], "strip": true, "backends": ["corp"]}]' })}
</fieldset>
<fieldset><legend>Directory admins</legend>
${field('Backend', 'admin.directory_backend', { value: s.admin.directory_backend, hint: 'members of the group below sign in here with their directory password' })}
${field('Group', 'admin.directory_group', { value: s.admin.directory_group, hint: "an otpgate group, as the backend's group map names it" })}
</fieldset>
<div class="actions"><button type="submit">Save settings</button></div></form>`,
      );
    }),
  );

  app.post(
    '/settings',
    ui.action((ctx) => {
      services.settings.replace(fromForm(services.settings.get(), ctx.form), ctx.actor);
      ctx.session.flash.push({ kind: 'ok', text: 'Settings saved; every node follows them.' });
      return { redirect: '/settings' };
    }),
  );
}
