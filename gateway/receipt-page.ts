import { explain } from '../protocol/issues.js';
import { receiptPageSchema, type ReceiptPage } from '../protocol/province-config.js';
import { fillUrlTemplatePartially, templatePlaceholders, UrlTemplateError } from '../protocol/url-template.js';
import type { Logger } from './ports.js';
import { deptCodeFor, type ProvinceProfile } from './province/profile.js';

/*
 * Contract: where a terminal's receipt QR codes lead, as its retained config says it
 * (`receiptPage`, protocol/province-config.ts). The province profile's rateLater.mode decides:
 * province → the profile's urlTemplate with {deptCode} filled here for the terminal's hall (the
 * bridge fills the case and its place); otherwise the gateway's own page (gateway.yaml
 * rateLater.publicUrl), when it serves one. With neither (no profile in province mode, no
 * rateLater) there is nothing to say and the bridge keeps its own printer.evaluationUrl.
 */

/** The terminal as the registry has it: its hall decides its deptCode (null: it has not said). */
export interface TerminalPlace {
  terminalId: string;
  hallCode: string | null;
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

/**
 * The template with {deptCode} filled for the terminal's hall; the rest (the case, and the place
 * the terminal's records carry) is left for the bridge. The hall is the registry's: known once the
 * terminal registered or the roster listed it; without it only a profile with one deptCode for
 * every hall can fill {deptCode}.
 */
export function provincePage(profile: ProvinceProfile, template: string, place: TerminalPlace): Made {
  let urlTemplate = template;
  if (templatePlaceholders(template).includes('deptCode')) {
    const deptCode = place.hallCode !== null ? deptCodeFor(profile, place.hallCode) : Object.keys(profile.halls).length === 0 ? profile.deptCode : undefined;
    if (deptCode === undefined) {
      const why = place.hallCode === null ? 'the gateway does not know its hall (it has not registered) and the profile’s halls have their own deptCode' : `the profile has no deptCode for hall ${place.hallCode}`;
      return { ok: false, problem: `the template needs {deptCode}: ${why}` };
    }
    try {
      urlTemplate = fillUrlTemplatePartially(template, { deptCode });
    } catch (err) {
      if (err instanceof UrlTemplateError) return { ok: false, problem: err.message };
      throw err;
    }
  }
  const rule = profile.itemCode;
  const page = { mode: 'province', urlTemplate, taskCode: rule.split ? { splitLength: rule.length, taskCodeLength: rule.taskCodeLength } : null, areaCodeDigits: profile.areaCodeDigits };
  // Checked as the terminal will check it: a config the bridge refuses would be refused whole.
  const checked = explain(receiptPageSchema, page);
  return checked.ok ? { ok: true, page: checked.data } : { ok: false, problem: checked.problems.join('; ') };
}
