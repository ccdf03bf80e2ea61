import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { requiredFieldMessages } from '../protocol/issues.js';
import { MAX_URL_LENGTH, qrSignSpecSchema } from '../gateway/qr-sign/spec.js';
import { hallCodeSchema, windowSignUrl } from '../gateway/rate-later/window-sign.js';

/*
 * `hcp gateway qr-sign --window <no> --hall-name <text> --url <url> [--hall <code>] [--area <text>] --out sign.pdf|sign.png`:
 * the A4 sign a hall puts at each window (docs/qr-sign.md). With --hall, the code leads to the
 * gateway's page at --url (rateLater.publicUrl) with the hall and the window, where the window's
 * recent cases are listed; without it, to --url as it is (the province's page). Every option is
 * checked here, at the boundary, and a bad one is said in one line naming it; the renderer is
 * loaded only when it runs.
 */

const optionsSchema = qrSignSpecSchema
  .extend({
    out: z.string().regex(/\.(pdf|png)$/i, 'expected the file to write, ending in .pdf or .png (the format comes from the name)'),
    hall: z
      .string()
      .refine((s) => hallCodeSchema.safeParse(s).success, 'expected the hall code as the terminals register it (1-64 characters, no spaces around it), e.g. XH-ZWFW')
      .optional(),
  })
  .transform(({ hall, ...options }, ctx) => {
    if (hall === undefined) return options;
    const url = windowSignUrl(options.url, { hallCode: hall, windowNo: options.window });
    if (url.length > MAX_URL_LENGTH) ctx.addIssue({ code: 'custom', path: ['url'], message: `with the hall and the window the URL is longer than ${MAX_URL_LENGTH} characters: too dense a QR code for a sign` });
    return { ...options, url };
  });

export interface QrSignDeps {
  print?: (text: string) => void;
  printError?: (text: string) => void;
  writeFile?: (path: string, bytes: Buffer) => void;
  /** The PDF's creation date. */
  now?: () => Date;
  fontPath?: string;
}

const flagOf = (key: PropertyKey | undefined): string => (key === undefined ? 'options' : `--${String(key).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);

/** Runs the command on commander's parsed options; returns the exit status (0 written, 1 refused). */
export async function gatewayQrSignCommand(options: Record<string, unknown>, deps: QrSignDeps = {}): Promise<number> {
  const print = deps.print ?? ((text: string) => console.log(text));
  const fail = (message: string): number => {
    (deps.printError ?? ((text: string) => console.error(text)))(`hcp gateway qr-sign: ${message}`);
    return 1;
  };
  const parsed = optionsSchema.safeParse(options, { error: requiredFieldMessages });
  if (!parsed.success) return fail(parsed.error.issues.map((issue) => `${flagOf(issue.path[0])}: ${issue.message}`).join('; '));
  const { out, ...spec } = parsed.data;
  const format = out.toLowerCase().endsWith('.pdf') ? 'pdf' : 'png';

  const { renderQrSign, SIGN_DPI } = await import('../gateway/qr-sign/sign.js');
  const { SignContentError, windowTitle } = await import('../gateway/qr-sign/layout.js');
  let bytes: Buffer;
  try {
    bytes = await renderQrSign(spec, format, { ...(deps.now && { now: deps.now }), ...(deps.fontPath !== undefined && { fontPath: deps.fontPath }) });
  } catch (err) {
    if (err instanceof SignContentError) return fail(`${flagOf(err.field)}: ${err.message}`);
    return fail((err as Error).message);
  }
  const path = resolve(out);
  try {
    (deps.writeFile ?? writeFileSync)(path, bytes);
  } catch (err) {
    return fail(`--out: cannot write ${path}: ${(err as Error).message}`);
  }
  const size = bytes.length >= 10_240 ? `${Math.round(bytes.length / 1024)} KB` : `${bytes.length} bytes`;
  print(`wrote ${path}: the A4 sign for ${spec.hallName} ${windowTitle(spec.window)} (${format.toUpperCase()}, ${size}, drawn at ${SIGN_DPI} dpi); its QR code leads to ${spec.url}`);
  return 0;
}

/** Adds `qr-sign` under `hcp gateway` (cli/main.ts). */
export function addGatewayQrSignCommand(gateway: Command): Command {
  return gateway
    .command('qr-sign')
    .description("the A4 sign for a window (PDF or PNG): hall name, 窗口 N, 请扫码评价本窗口服务, and a QR code to the window's rating page")
    .option('--window <no>', 'the window number as its terminal has it (1-16 characters), e.g. A03')
    .option('--hall-name <text>', 'the hall as citizens know it, e.g. 西湖区政务服务中心')
    .option('--area <text>', 'a line above the hall name, e.g. 杭州市西湖区 (optional)')
    .option('--url <url>', "the rating page the QR code leads to: the gateway's rate-later page (rateLater.publicUrl, with --hall), or the province's page (http or https)")
    .option('--hall <code>', "the hall code as the terminals register it: the code then leads to --url?hall=<code>&window=<no>, the gateway's list of the window's recent cases")
    .option('--out <file>', 'the file to write: sign.pdf (one A4 page) or sign.png (A4 at 200 dpi)')
    .showHelpAfterError(false)
    .action(async (options: Record<string, unknown>) => {
      process.exitCode = await gatewayQrSignCommand(options);
    });
}
