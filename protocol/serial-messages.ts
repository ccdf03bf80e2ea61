import { z } from 'zod';
import { BUTTON_COUNT, GRADES, gradeSchema } from './grades.js';
import { PAIRING_KEY_HEX_LENGTH } from './line-auth.js';

/** A button's index, left (非常满意) to right. */
const buttonIndex = z.number().int().min(0).max(BUTTON_COUNT - 1);

/** Serial line protocol version carried in `hello`. */
export const SERIAL_PROTOCOL_VERSION = 1;

const seq = z.number().int().min(0).max(2 ** 31);
/** Hex digits in either case; receivers compare them lower-cased. */
const bootId = z.string().regex(/^[0-9a-fA-F]{8,32}$/, 'boot id must be 8-32 hex digits');
/** Invitation ids are UUIDs made by the bridge; the device only echoes them. */
const invitationId = z.string().min(1).max(64);

/** Most invitations a hello lists as pending: the journal holds one open invitation's report, rarely two. */
export const HELLO_PENDING_LIMIT = 4;
/** A nak's problem text is cut to this many characters, to keep the frame within its limit. */
export const NAK_PROBLEM_LENGTH = 160;

/**
 * Which frame an ack or nak answers, beyond its seq: the frame's JSON length × 65536 + its CRC
 * (protocol/frame.ts). A frame another sender put under the same seq (a forgery, or the peer's
 * previous boot) then settles nothing of ours. null: the peer does not say (older firmware).
 */
const fingerprint = z.number().int().min(0).max(2 ** 25 - 1).nullable().default(null);

// Frames both sides send.
const ack = z.object({ type: z.literal('ack'), seq, ack: seq, fp: fingerprint });
/** A reliable frame refused for its content (its checksum held): the sender drops it and counts it. */
const nak = z.object({ type: z.literal('nak'), seq, nak: seq, fp: fingerprint, problem: z.string().max(NAK_PROBLEM_LENGTH) });
const heartbeat = z.object({ type: z.literal('hb'), seq });

// Device to bridge.
export const terminalHelloSchema = z.object({
  type: z.literal('hello'),
  seq,
  proto: z.number().int().positive(),
  fw: z.string().min(1).max(32),
  serial: z.string().min(1).max(64),
  boot: bootId,
  /**
   * The invitations this boot holds an unacknowledged report for (from its journal): an open
   * invitation not listed will get no report from this boot. null: a terminal that does not say.
   */
  pending: z.array(invitationId).max(HELLO_PENDING_LIMIT).nullable().default(null),
  /**
   * The bridge boot this hello answers (from the bridge's hello), null before one was heard: a
   * paired terminal's tag covers both boots (protocol/line-auth.ts), so the bridge takes a hello
   * only when it answers its own boot, and greets anew otherwise.
   */
  peer: bootId.nullable().default(null),
});
const rating = z.object({
  type: z.literal('rating'),
  seq,
  inv: invitationId,
  grade: gradeSchema,
  /** Device monotonic milliseconds from the invitation reaching the device to the press. */
  latencyMs: z.number().int().min(0),
  /** For a bad grade: the reason button chosen (0-based), or null if none was chosen in time. */
  reason: buttonIndex.nullable().default(null),
});
const expired = z.object({ type: z.literal('expired'), seq, inv: invitationId });
const cancelled = z.object({ type: z.literal('cancelled'), seq, inv: invitationId });
/** `ref` names the press for good (boot id and first sequence number): a replay after a reset keeps it. */
const stray = z.object({ type: z.literal('stray'), seq, grade: gradeSchema, ref: z.string().min(1).max(48) });

/** A button held down far longer than a press: a fault (a jammed key, or someone leaning on it). */
const stuck = z.object({ type: z.literal('stuck'), seq, button: buttonIndex, heldMs: z.number().int().min(0), ref: z.string().min(1).max(48) });

/** In test mode (self-test), a button press: not a rating, not a stray; never journaled. */
const press = z.object({ type: z.literal('press'), seq, button: buttonIndex });

/**
 * After a bad grade, the terminal now offers `choices` reasons on its first buttons for `inv`:
 * the bridge reads them out and labels them on the customer screen. It names no grade (the rating
 * report that follows does); never journaled: once the moment has passed it means nothing.
 */
const choosing = z.object({ type: z.literal('choosing'), seq, inv: invitationId, choices: z.number().int().min(1).max(BUTTON_COUNT) });

export const terminalMessageSchema = z.discriminatedUnion('type', [
  stuck,
  press,
  choosing,
  terminalHelloSchema,
  rating,
  expired,
  cancelled,
  stray,
  ack,
  nak,
  heartbeat,
]);
export type TerminalMessage = z.infer<typeof terminalMessageSchema>;

// Bridge to device.
const bridgeHello = z.object({ type: z.literal('hello'), seq, proto: z.number().int().positive(), boot: bootId });
const invite = z.object({
  type: z.literal('invite'),
  seq,
  inv: invitationId,
  timeoutMs: z.number().int().min(1000).max(600_000),
  /** How many reason choices to offer after a bad grade (0: no reason step). */
  reasons: z.number().int().min(0).max(BUTTON_COUNT).default(0),
  reasonTimeoutMs: z.number().int().min(1000).max(120_000).default(15_000),
});
const cancel = z.object({ type: z.literal('cancel'), seq, inv: invitationId });
/**
 * The pairing key (protocol/line-auth.ts): the terminal keeps it and tags every reliable frame
 * with it from then on. Taken only while the terminal is unpaired or within its pairing window
 * after power-up (firmware/core/terminal-core.ts), so that re-pairing needs a technician's hand.
 */
const pair = z.object({
  type: z.literal('pair'),
  seq,
  key: z.string().min(PAIRING_KEY_HEX_LENGTH).max(PAIRING_KEY_HEX_LENGTH).regex(/^[0-9a-f]+$/, 'a pairing key is lower-case hex'),
});
/**
 * Self-test (only from idle): `active` enters or stays in test mode, showing `leds` and sounding
 * the buzzer for `beepMs`; presses are then reported as `press`. `active: false` leaves it. The
 * terminal also leaves it by itself after 60 s without a test frame (a bridge gone mid-test).
 */
const test = z.object({
  type: z.literal('test'),
  seq,
  active: z.boolean(),
  leds: z.array(z.boolean()).length(BUTTON_COUNT).default(GRADES.map(() => false)),
  beepMs: z.number().int().min(0).max(2000).default(0),
});

/**
 * Staff stepped away (暂停服务) or came back: while `active`, the terminal shows its paused pattern
 * and a press is a stray press, as with no invitation. Sent again after every hello.
 */
const pause = z.object({ type: z.literal('pause'), seq, active: z.boolean() });
/**
 * Play prompt `clip` (protocol/voice-prompts.ts) on the terminal's own sound module; a terminal
 * without one acknowledges it and does nothing.
 */
const say = z.object({ type: z.literal('say'), seq, clip: z.number().int().min(1).max(255) });

export const bridgeMessageSchema = z.discriminatedUnion('type', [bridgeHello, invite, cancel, test, pair, pause, say, ack, nak, heartbeat]);
export type BridgeMessage = z.infer<typeof bridgeMessageSchema>;

/** Frames that are resent until the peer acknowledges them; `ack`, `nak` and `hb` are fire-and-forget. */
export function isReliable(message: { type: string }): boolean {
  return message.type !== 'ack' && message.type !== 'nak' && message.type !== 'hb';
}

/** A message as handed to a link for sending: the link assigns the sequence number. */
export type Unsequenced<M> = M extends unknown ? Omit<M, 'seq'> : never;
