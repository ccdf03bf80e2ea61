import { z } from 'zod';

/**
 * A staff member's photo for the customer screen's staff card (bridge/screen/): a `data:` URL of a
 * JPEG or PNG, base64, checked by its first bytes, at most STAFF_PHOTO_MAX_BYTES. A portrait of
 * about 240 × 320 pixels at JPEG quality 80 is 15-25 KB; the bound keeps a roster of photos (sent
 * to every terminal in its retained config) within what a Pi parses at once.
 */
export const STAFF_PHOTO_MAX_BYTES = 48 * 1024;

const PREFIX = /^data:image\/(jpeg|png);base64,/;
const MAGIC = { jpeg: [0xff, 0xd8, 0xff], png: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] } as const;

/** The decoded bytes' count of a base64 text (no decoding: the bound is checked before anything is allocated). */
function decodedLength(base64: string): number {
  return Math.floor((base64.length * 3) / 4) - (base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0);
}

export const staffPhotoSchema = z
  .string()
  .max(Math.ceil(STAFF_PHOTO_MAX_BYTES / 3) * 4 + 30, `photo: at most ${STAFF_PHOTO_MAX_BYTES / 1024} KB (a portrait of about 240 × 320 pixels)`)
  .superRefine((url, ctx) => {
    const kind = PREFIX.exec(url)?.[1] as keyof typeof MAGIC | undefined;
    if (!kind) {
      ctx.addIssue({ code: 'custom', message: 'expected a data: URL of a JPEG or PNG, e.g. data:image/jpeg;base64,/9j/…' });
      return;
    }
    const base64 = url.slice(`data:image/${kind};base64,`.length);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || base64.length % 4 !== 0) {
      ctx.addIssue({ code: 'custom', message: 'the photo is not valid base64 after "base64,"' });
      return;
    }
    if (decodedLength(base64) > STAFF_PHOTO_MAX_BYTES) {
      ctx.addIssue({ code: 'custom', message: `photo: at most ${STAFF_PHOTO_MAX_BYTES / 1024} KB (a portrait of about 240 × 320 pixels)` });
      return;
    }
    const head = atob(base64.slice(0, 12));
    if (!MAGIC[kind].every((byte, i) => head.charCodeAt(i) === byte)) {
      ctx.addIssue({ code: 'custom', message: `the photo's bytes are not a ${kind.toUpperCase()} image (it says image/${kind})` });
    }
  });

/** A staff member's name as a card shows it. */
export const staffNameSchema = z.string().trim().min(1, 'name: required').max(40, 'name: at most 40 characters');
/** A title under the name on the card, e.g. 综合受理窗口 or 首席代表. */
export const staffTitleSchema = z.string().trim().min(1).max(40, 'title: at most 40 characters');
