/*
 * Contract: the province's own rating page, as a profile's `rateLater.urlTemplate` names it
 * (rateLater.mode: province). The receipt QR (H4/bridge) and the window's QR sign (H5) fill it
 * with fillUrlTemplate; the profile's schema checks a template with templatePlaceholders.
 */

/** Every placeholder a template may hold, and what it is filled with (documented in docs/province-profile.md). */
export const URL_PLACEHOLDERS = {
  caseNo: '办件编号, the case number',
  areaCode: 'the hall’s area code padded to the profile’s areaCodeDigits (12)',
  areaCode6: 'the 6-digit administrative area code as the terminal has it',
  itemCode: 'the service item code as the business system gave it',
  taskCode: 'the item code as sent in taskCode (the first 31 characters of a 33-character code when the profile splits)',
  deptCode: 'the hall’s department code from the profile',
  hallCode: 'the hall code',
  windowNo: 'the window number',
} as const;
export type UrlPlaceholder = keyof typeof URL_PLACEHOLDERS;

const PLACEHOLDER = /\{([^{}]*)\}/g;

/** The placeholders a template names, in order (unknown names included: the schema refuses them). */
export function templatePlaceholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1] ?? '');
}

export function isUrlPlaceholder(name: string): name is UrlPlaceholder {
  return Object.hasOwn(URL_PLACEHOLDERS, name);
}

export class UrlTemplateError extends Error {
  override name = 'UrlTemplateError';
}

/**
 * The template with each placeholder replaced by its value, percent-encoded. A placeholder with no
 * value is an error (a QR code leading to a page that cannot know the case is worse than none).
 */
export function fillUrlTemplate(template: string, values: Partial<Record<UrlPlaceholder, string>>): string {
  return template.replace(PLACEHOLDER, (_whole, name: string) => {
    const value = isUrlPlaceholder(name) ? values[name] : undefined;
    if (value === undefined) throw new UrlTemplateError(`the rating page template needs {${name}} and none was given`);
    return encodeURIComponent(value);
  });
}
