import { explain } from '../protocol/issues.js';
import { receiptPageSchema, type ReceiptPage } from '../protocol/province-config.js';
import { fillUrlTemplatePartially, isCasePlaceholder, templatePlaceholders, UrlTemplateError, type UrlPlaceholder } from '../protocol/url-template.js';
import type { Logger } from './ports.js';
import { paddedAreaCode } from './province/payloads.js';
import { deptCodeFor, type ProvinceProfile } from './province/profile.js';

/*
 * Contract: where a terminal's receipt QR codes lead, as its retained config says it
 * (`receiptPage`, protocol/province-config.ts). The province profile's rateLater.mode decides:
 * province → the profile's urlTemplate with this terminal's placeholders filled here (the bridge
 * fills the case's); otherwise the gateway's own page (gateway.yaml rateLater.publicUrl), when it
 * serves one. With neither (no profile in province mode, no rateLater) there is nothing to say and
 * the bridge keeps its own printer.evaluationUrl.
 */

/** Where a terminal is, as the registry has it (null: it never said). */
export interface TerminalPlace {
  terminalId: string;
  areaCode: string | null;
  hallCode: string | null;
  windowNo: string | null;
}

export interface ReceiptPageSettings {
  /** The province profile, when the gateway has one (province.profileFile). */
  profile?: ProvinceProfile | undefined;
  /** gateway.yaml rateLater.publicUrl, when the gateway serves its page. */
  publicUrl?: string | undefined;
  logger: Logger;
}

/** The receipt page per terminal, or undefined when the gateway has no page to send any terminal to. */
export function receiptPageSource({ profile, publicUrl, logger }: ReceiptPageSettings): ((place: TerminalPlace) => ReceiptPage) | undefined {
  if (profile?.rateLater.mode === 'province' && profile.rateLater.urlTemplate !== undefined) {
    const template = profile.rateLater.urlTemplate;
    return (place) => {
      const made = provincePage(profile, template, place);
      if (made.ok) return made.page;
      // The bridge's own page rather than none: a QR code is always printed, and one sent before is replaced.
      logger.warn({ terminalId: place.terminalId, problem: made.problem }, 'receipt page: the province’s page cannot be made for this terminal; its receipts lead to its own printer.evaluationUrl');
      return { mode: 'bridge' };
    };
  }
  if (publicUrl === undefined) return undefined;
  const page: ReceiptPage = { mode: 'gateway', url: publicUrl };
  return () => page;
}

type Made = { ok: true; page: ReceiptPage } | { ok: false; problem: string };

/** The template with the terminal's placeholders filled; the case's are left for the bridge. */
export function provincePage(profile: ProvinceProfile, template: string, place: TerminalPlace): Made {
  const values: Partial<Record<UrlPlaceholder, string>> = {};
  if (place.areaCode !== null) Object.assign(values, { areaCode: paddedAreaCode(profile, place.areaCode), areaCode6: place.areaCode });
  if (place.hallCode !== null) {
    values.hallCode = place.hallCode;
    const deptCode = deptCodeFor(profile, place.hallCode);
    if (deptCode !== undefined) values.deptCode = deptCode;
  }
  if (place.windowNo !== null) values.windowNo = place.windowNo;
  let urlTemplate: string;
  try {
    urlTemplate = fillUrlTemplatePartially(template, values);
  } catch (err) {
    if (err instanceof UrlTemplateError) return { ok: false, problem: err.message };
    throw err;
  }
  const missing = templatePlaceholders(urlTemplate).filter((name) => !isCasePlaceholder(name));
  if (missing.length > 0) return { ok: false, problem: `the template needs ${missing.map((n) => `{${n}}`).join(', ')} and the gateway has no value for this terminal (its place, or the profile's deptCode for its hall)` };
  const rule = profile.itemCode;
  const page = { mode: 'province', urlTemplate, taskCode: rule.split ? { splitLength: rule.length, taskCodeLength: rule.taskCodeLength } : null };
  // Checked as the terminal will check it: a config the bridge refuses would be refused whole.
  const checked = explain(receiptPageSchema, page);
  return checked.ok ? { ok: true, page: checked.data } : { ok: false, problem: checked.problems.join('; ') };
}
