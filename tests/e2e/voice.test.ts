import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatStatus } from '../../cli/status.js';
import type { Synthesizer } from '../../bridge/voice/espeak.js';
import { PROMPTS } from '../../protocol/voice-prompts.js';
import { SAMPLE_PROVINCE_CONFIG } from '../../simulator/province.js';
import { SimWindow } from '../../simulator/sim-window.js';
import { SpokenLog } from '../../simulator/spoken-log.js';
import { waitUntil } from '../../simulator/wait.js';
import { BROKERS } from '../support/brokers.js';
import { hcp } from '../support/run-hcp.js';
import { useHall } from '../support/hall-fixture.js';

/**
 * Voice through the whole path (virtual terminal → bridge → broker → province), with the speaker
 * injected (BridgeDeps.voice): the prompts follow the invitation, and a speaker that fails raises
 * the sound_device alarm while every rating still reaches the province.
 */
const halls = useHall(BROKERS[0]!);
const dir = mkdtempSync(join(tmpdir(), 'hcp-e2e-voice-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** No espeak-ng here: the prompt files are the player's business, and SpokenLog needs none. */
const noSynthesis: Synthesizer = { settingsKey: 'none', synthesize: () => Promise.resolve() };

describe('voice at the counter', () => {
  it('says the invite prompt, then the thanks; a timeout is said as such', async () => {
    const hall = await halls.start();
    const speaker = new SpokenLog();
    const w = await hall.window({
      config: { voice: { output: 'alsa', cacheDir: join(dir, 'a') }, invitation: { timeoutSeconds: 1 } },
      bridgeDeps: { voice: { player: speaker, synthesizer: noSynthesis } },
    });
    const rated = await hall.serve(w, 'C-VOICE-1', 0);
    await waitUntil(() => speaker.said.includes('thanks'), 'the thanks');
    const timedOut = await hall.serve(w, 'C-VOICE-2', null);
    await waitUntil(() => speaker.said.includes('timeout'), 'the timeout prompt');
    expect(speaker.said).toEqual(['invite', 'thanks', 'invite', 'timeout']);
    const records = await hall.expectExactlyOnce(w, [rated, timedOut]);
    expect(records.map((r) => r.kind === 'invitation' && r.outcome)).toEqual(['rated', 'not_rated']);
    expect(w.bridge.status().voice).toMatchObject({ configured: true, output: 'alsa', played: 4, failed: 0, fault: false });
    expect(w.bridge.status().alarms).not.toContain('sound_device');
  });

  it('a sound device that fails raises sound_device, and the rating still goes through; the alarm clears when a prompt plays again', async () => {
    const hall = await halls.start();
    const speaker = new SpokenLog();
    speaker.failWith = 'no sound card for ALSA device "default"';
    const w = await hall.window({ config: { voice: { cacheDir: join(dir, 'b') } }, bridgeDeps: { voice: { player: speaker, synthesizer: noSynthesis } } });
    const id = await hall.serve(w, 'C-VOICE-3', 1);
    const [record] = await hall.expectExactlyOnce(w, [id]);
    expect(record).toMatchObject({ outcome: 'rated', rating: { grade: 'satisfied' } });
    await waitUntil(() => w.bridge.status().alarms.includes('sound_device'), 'the sound_device alarm');
    expect(w.bridge.status().voice).toMatchObject({ fault: true, lastError: 'no sound card for ALSA device "default"' });
    expect(formatStatus(w.bridge.status(), w.bridge.httpUrl)).toMatch(/\n {2}voice +ALSA device default: 0 played, 2 failed; FAILING: no sound card for ALSA device "default"/);
    speaker.failWith = null;
    await hall.serve(w, 'C-VOICE-4', 0);
    await waitUntil(() => !w.bridge.status().alarms.includes('sound_device'), 'the alarm to clear');
    expect(w.bridge.status().voice).toMatchObject({ fault: false, lastError: 'no sound card for ALSA device "default"' });
  });

  it("after a bad grade the terminal's reasons are read in button order with the catalogue's labels, then the thanks", async () => {
    const hall = await halls.start();
    const speaker = new SpokenLog();
    const w = await hall.window({ config: { voice: { cacheDir: join(dir, 'c') } }, bridgeDeps: { voice: { player: speaker, synthesizer: noSynthesis } } });
    await hall.province.publishConfig(w.terminalId, SAMPLE_PROVINCE_CONFIG);
    await waitUntil(() => w.bridge.status().reasonCatalog !== null, 'the catalogue to arrive');
    const id = await hall.serve(w, 'C-VOICE-5', 3);
    await waitUntil(() => w.terminal.core.state === 'reason', 'the reason step');
    await waitUntil(() => speaker.said.length >= 8, 'the reasons to be read');
    await w.terminal.press(1);
    await hall.expectExactlyOnce(w, [id]);
    await waitUntil(() => speaker.said.at(-1) === 'thanks', 'the thanks');
    const labels = SAMPLE_PROVINCE_CONFIG.reasonCatalog!.reasons.map((r) => `label:${r.label}`);
    expect(speaker.said).toEqual(['invite', 'reasons', 'reason_key_1', labels[0], 'reason_key_2', labels[1], 'reason_key_3', labels[2], 'thanks']);
  });

  it("a terminal with its own sound module is sent each prompt's clip number (a label has none)", async () => {
    const hall = await halls.start();
    const w = await SimWindow.start({
      brokerUrl: hall.brokerUrl,
      windowNo: 'S1',
      terminalId: `VOICE-${process.pid}-${Math.random().toString(36).slice(2, 6)}`,
      dbPath: join(hall.dir, 'say.db'),
      config: { voice: { output: 'terminal' } },
      soundModule: true,
    });
    try {
      await w.signIn('S9');
      await hall.province.publishConfig(w.terminalId, SAMPLE_PROVINCE_CONFIG);
      await waitUntil(() => w.bridge.status().reasonCatalog !== null, 'the catalogue to arrive');
      await hall.serve(w, 'C-VOICE-6', 4);
      await waitUntil(() => w.terminal.core.state === 'reason', 'the reason step');
      await w.terminal.press(0);
      // invite, then 请选择不满意的原因 and 按1键 … 按3键 (the labels are not the terminal's), then the thanks.
      await waitUntil(() => w.terminal.clips.at(-1) === PROMPTS.thanks.clip, 'the thanks on the terminal');
      expect(w.terminal.clips).toEqual([1, 3, 11, 12, 13, 2]);
      expect(w.bridge.status().voice).toMatchObject({ configured: true, output: 'terminal', device: null, played: 6, skipped: 3, failed: 0 });
    } finally {
      await w.stop();
    }
  });

  it("staff's pause, greeting, 一米线 and resume from the API are said, the announcements after the pause prompt", async () => {
    const hall = await halls.start();
    const speaker = new SpokenLog();
    const w = await hall.window({ config: { voice: { cacheDir: join(dir, 'd') } }, bridgeDeps: { voice: { player: speaker, synthesizer: noSynthesis } } });
    expect((await w.api('POST', '/api/v1/staff/pause')).status).toBe(200);
    expect((await w.api('POST', '/api/v1/announce', { prompt: 'greeting' })).status).toBe(202);
    expect((await w.api('POST', '/api/v1/announce', { prompt: 'one_metre_line' })).status).toBe(202);
    expect((await w.api('POST', '/api/v1/staff/resume')).status).toBe(200);
    await waitUntil(() => speaker.said.at(-1) === 'resumed', 'the resume prompt');
    expect(speaker.said).toEqual(['paused', 'greeting', 'one_metre_line', 'resumed']);
  });

  it('a window without voice says nothing and reports voice as not configured', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    expect(w.bridge.status().voice).toEqual({ configured: false });
  });
});

describe('hcp voice build', () => {
  it('synthesizes the default prompts with espeak-ng into the cache, without a place to write, exit code 2', async () => {
    const cache = join(dir, 'built');
    const first = await hcp(['voice', 'build', '--cache-dir', cache]);
    expect(first.code).toBe(0);
    const lines = first.stdout.trim().split('\n');
    expect(lines[0]).toBe(`hcp voice build: ${cache} (espeak-ng cmn-latn-pinyin, 150 words a minute)`);
    expect(lines).toHaveLength(14);
    expect(lines[1]).toMatch(/^ {3}1 invite +您好，请您对本次服务进行评价 {2}made {2}\/.+\.wav$/);
    expect(existsSync(lines[1]!.split('  ').at(-1)!)).toBe(true);
    expect(await hcp(['voice', 'build'])).toMatchObject({ code: 2, stderr: 'hcp: hcp voice build: give -c <bridge config> or --cache-dir <folder>\n' });
  });
});
