/**
 * A DFPlayer Mini (or a clone: YX5200, MP3-TF-16P), the sound module a terminal's MCU drives on a
 * UART at 9600 baud: command 0x12 plays /MP3/NNNN.mp3 from its SD card, so prompt clip N of
 * protocol/voice-prompts.ts is the file /MP3/000N.mp3 (docs/audio.md). No Node APIs: the
 * Espruino bundle uses it.
 */
export const DFPLAYER_BAUD = 9600;

/** The 10 bytes that play clip `clip` (1-255): start, version, length, command, no reply, the track, checksum, end. */
export function dfplayerPlayFrame(clip: number): number[] {
  const body = [0xff, 0x06, 0x12, 0x00, (clip >> 8) & 0xff, clip & 0xff];
  let sum = 0;
  body.forEach((byte) => (sum += byte));
  const checksum = (0x10000 - sum) & 0xffff;
  return [0x7e].concat(body, [(checksum >> 8) & 0xff, checksum & 0xff, 0xef]);
}
