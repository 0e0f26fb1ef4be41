import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { InvalidInputError } from '@otpgate/shared';

/**
 * A parsed XML element as fast-xml-parser gives it (namespace prefixes removed, attributes as "@_name", text as
 * "#text" or the value itself), walked with the typed helpers below instead of `any`.
 */
export type XmlNode = string | { [key: string]: XmlNode | XmlNode[] | undefined };

export function parseXml(text: string, source: string, arrays: readonly string[]): XmlNode {
  // PSKC needs no DTD; refusing one rules out entity expansion tricks before the parser sees them
  if (text.includes('<!DOCTYPE')) throw new InvalidInputError('the file has a DOCTYPE, which PSKC files never need; refusing it', source);
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new InvalidInputError(`not well-formed XML: line ${valid.err.line}: ${valid.err.msg}`, source);
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@_',
    removeNSPrefix: true,
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: true,
    isArray: (name) => arrays.includes(name),
  });
  return parser.parse(text) as XmlNode;
}

function isElement(node: XmlNode | XmlNode[] | undefined): node is Exclude<XmlNode, string> {
  return typeof node === 'object' && node !== null && !Array.isArray(node);
}

/** The one child element `name` (the first, if the document repeats it). */
export function child(node: XmlNode | undefined, name: string): XmlNode | undefined {
  if (!isElement(node)) return undefined;
  const value = node[name];
  return Array.isArray(value) ? value[0] : value;
}

export function children(node: XmlNode | undefined, name: string): XmlNode[] {
  if (!isElement(node)) return [];
  const value = node[name];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** Follow a path of child elements. */
export function path(node: XmlNode | undefined, ...names: string[]): XmlNode | undefined {
  return names.reduce<XmlNode | undefined>((n, name) => child(n, name), node);
}

/** The text content of an element ('' when absent or empty). */
export function text(node: XmlNode | undefined): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.trim();
  const t = node['#text'];
  return typeof t === 'string' ? t.trim() : '';
}

export function attribute(node: XmlNode | undefined, name: string): string {
  if (!isElement(node)) return '';
  const value = node[`@_${name}`];
  return typeof value === 'string' ? value.trim() : '';
}

/** Base64 element content (XML may wrap it over several lines). */
export function base64(node: XmlNode | undefined): Buffer | undefined {
  const value = text(node).replace(/\s+/g, '');
  if (value === '') return undefined;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) throw new InvalidInputError('is not base64', 'PSKC');
  return Buffer.from(value, 'base64');
}
