/**
 * Apple property lists in XML (the .mobileconfig format): a small writer with its own escaper, so a name or password
 * holding "<", "&" or "]]>" stays text, and characters XML 1.0 cannot carry at all (controls, lone surrogates) are
 * dropped rather than written.
 */

export type PlistValue = string | number | boolean | Date | Buffer | readonly PlistValue[] | { readonly [key: string]: PlistValue };

/** Text for an XML element: the five markup characters escaped, characters XML 1.0 forbids removed. */
export function xmlText(text: string): string {
  return (
    text
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
  );
}

function value(v: PlistValue, indent: string): string {
  const inner = `${indent}  `;
  if (typeof v === 'string') return `${indent}<string>${xmlText(v)}</string>`;
  if (typeof v === 'boolean') return `${indent}<${v}/>`;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new RangeError(`plist integers only: ${v}`);
    return `${indent}<integer>${v}</integer>`;
  }
  if (v instanceof Date) return `${indent}<date>${v.toISOString().replace(/\.\d{3}Z$/, 'Z')}</date>`;
  if (Buffer.isBuffer(v)) return `${indent}<data>${v.toString('base64')}</data>`;
  if (Array.isArray(v)) return v.length === 0 ? `${indent}<array/>` : `${indent}<array>\n${v.map((item) => value(item as PlistValue, inner)).join('\n')}\n${indent}</array>`;
  const entries = Object.entries(v as { [key: string]: PlistValue });
  if (entries.length === 0) return `${indent}<dict/>`;
  return `${indent}<dict>\n${entries.map(([k, item]) => `${inner}<key>${xmlText(k)}</key>\n${value(item, inner)}`).join('\n')}\n${indent}</dict>`;
}

export function plist(root: PlistValue): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
${value(root, '')}
</plist>
`;
}
