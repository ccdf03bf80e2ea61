/*
 * Contract: the province's own rating page, as a profile's `rateLater.urlTemplate` names it
 * (rateLater.mode: province). Pure, shared: the gateway fills what only the profile knows
 * ({deptCode}: fillUrlTemplatePartially, gateway/receipt-page.ts) and sends the rest in the
 * terminal's config (`receiptPage`); the bridge fills the receipt's case and its own place
 * (fillUrlTemplate) for each receipt's QR code; the window's QR sign fills what it knows. The
 * profile's schema checks a template with templatePlaceholders.
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

/** Known from the profile only: the gateway fills them before the template goes to the terminal. */
export const PROFILE_PLACEHOLDERS = ['deptCode'] as const satisfies readonly UrlPlaceholder[];
/**
 * Known at the terminal: the receipt's case, and the place its records carry (so the page gets
 * what the service push got; the gateway's registry may not know the place: a terminal approved
 * on its first key said none). The bridge fills them for each receipt.
 */
export const BRIDGE_PLACEHOLDERS = ['caseNo', 'itemCode', 'taskCode', 'areaCode', 'areaCode6', 'hallCode', 'windowNo'] as const satisfies readonly UrlPlaceholder[];
export type BridgePlaceholder = (typeof BRIDGE_PLACEHOLDERS)[number];

const PLACEHOLDER = /\{([^{}]*)\}/g;

/** The placeholders a template names, in order (unknown names included: the schema refuses them). */
export function templatePlaceholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1] ?? '');
}

export function isUrlPlaceholder(name: string): name is UrlPlaceholder {
  return Object.hasOwn(URL_PLACEHOLDERS, name);
}

export function isBridgePlaceholder(name: string): name is BridgePlaceholder {
  return (BRIDGE_PLACEHOLDERS as readonly string[]).includes(name);
}

export class UrlTemplateError extends Error {
  override name = 'UrlTemplateError';
}

type Values = Partial<Record<UrlPlaceholder, string>>;

const valueOf = (values: Values, name: string): string | undefined => (isUrlPlaceholder(name) && Object.hasOwn(values, name) ? values[name] : undefined);

/** Percent-encoded; text that cannot be (a lone surrogate, from JSON's \ud800) is a UrlTemplateError, not a URIError. */
function encoded(name: string, value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    throw new UrlTemplateError(`the value for {${name}} is not well-formed text (a lone surrogate) and cannot go into a URL`);
  }
}

/**
 * The template with each placeholder replaced by its value, percent-encoded. A placeholder with no
 * value is an error (a QR code leading to a page that cannot know the case is worse than none).
 */
export function fillUrlTemplate(template: string, values: Values): string {
  return template.replace(PLACEHOLDER, (_whole, name: string) => {
    const value = valueOf(values, name);
    if (value === undefined) throw new UrlTemplateError(`the rating page template needs {${name}} and none was given`);
    return encoded(name, value);
  });
}

/**
 * The placeholders that have a value replaced (percent-encoded; UrlTemplateError as above), every other one left as it was,
 * so that the rest can be filled later. A filled value can never make a placeholder: its braces
 * are encoded (%7B, %7D). So filling in two steps is filling once with both sets of values.
 */
export function fillUrlTemplatePartially(template: string, values: Values): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => {
    const value = valueOf(values, name);
    return value === undefined ? whole : encoded(name, value);
  });
}

/** How the profile splits a long item code (its `itemCode` rule), as the terminal is told it; null: never split. */
export interface TaskCodeRule {
  /** Codes of exactly this length are split… */
  splitLength: number;
  /** …and taskCode is their first this many characters. */
  taskCodeLength: number;
}

/** The 6-digit area code right-padded with zeros to the profile's areaCodeDigits, as areaCode is sent. */
export function paddedAreaCode(areaCode: string, digits: number): string {
  return areaCode.padEnd(digits, '0');
}

/** The item code as the province's taskCode: a code of the split length cut to taskCodeLength, any other as it is. */
export function taskCodeOf(itemCode: string, rule: TaskCodeRule | null): string {
  return rule !== null && itemCode.length === rule.splitLength ? itemCode.slice(0, rule.taskCodeLength) : itemCode;
}
