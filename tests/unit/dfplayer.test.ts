import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dfplayerPlayFrame } from '../../firmware/adapters/dfplayer.js';
import { PROMPTS } from '../../protocol/voice-prompts.js';

describe('the DFPlayer Mini play frame', () => {
  it('plays /MP3/0001.mp3 for clip 1, as the module documents it (checksum = 0 - the bytes from version to parameter)', () => {
    expect(dfplayerPlayFrame(1)).toEqual([0x7e, 0xff, 0x06, 0x12, 0x00, 0x00, 0x01, 0xfe, 0xe8, 0xef]);
  });

  it('frames every clip of the prompt list, and any clip 1-255, with a checksum that sums to zero', () => {
    const clips = Object.values(PROMPTS).map((p) => p.clip);
    fc.assert(
      fc.property(fc.oneof(fc.constantFrom(...clips), fc.integer({ min: 1, max: 255 })), (clip) => {
        const frame = dfplayerPlayFrame(clip);
        expect(frame).toHaveLength(10);
        expect([frame[0], frame[3], frame[9]]).toEqual([0x7e, 0x12, 0xef]);
        expect((frame[5]! << 8) | frame[6]!).toBe(clip);
        const sum = frame.slice(1, 7).reduce((a, b) => a + b, 0) + ((frame[7]! << 8) | frame[8]!);
        expect(sum & 0xffff).toBe(0);
      }),
      { seed: 16, numRuns: 300 },
    );
  });
});
