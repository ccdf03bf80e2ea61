import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { BridgeEvents, OfferedReason } from '../../bridge/bridge-events.js';
import { Voice } from '../../bridge/features/voice.js';
import { silentLogger } from '../../bridge/log.js';
import { alarms } from '../../bridge/status/alarms.js';
import { voiceConfigSchema } from '../../bridge/voice/config.js';
import { PlaybackError, type Player, type PlayResult } from '../../bridge/voice/player.js';
import { TerminalPlayer } from '../../bridge/voice/terminal-player.js';
import { describeUtterance, type Utterance } from '../../bridge/voice/utterance.js';
import { voiceOutput, type VoiceOutput } from '../../bridge/voice/voice-output.js';
import type { ReasonCatalog } from '../../protocol/province-config.js';
import type { StoredInvitation } from '../../protocol/records.js';
import { ManualTimers } from '../support/manual-timers.js';

/** Lets the queue's promise callbacks run (they settle on microtasks, after the manual timers fire). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A speaker that takes `ms` per utterance on the manual timers, stops when cut, and fails when told. */
class FakePlayer implements Player {
  readonly log: string[] = [];
  fail: string | null = null;
  hang = false;

  constructor(
    private readonly timers: ManualTimers,
    private readonly ms = 1000,
  ) {}

  play(u: Utterance, signal: AbortSignal): Promise<PlayResult> {
    this.log.push(u.kind === 'prompt' ? u.name : `label:${u.text}`);
    if (this.fail !== null) return Promise.reject(new PlaybackError(this.fail));
    if (this.hang) return new Promise(() => undefined);
    return new Promise((resolve) => {
      const handle = this.timers.setTimeout(() => resolve('played'), this.ms);
      signal.addEventListener('abort', () => {
        this.timers.clearTimeout(handle);
        resolve('played');
      });
    });
  }
}

class FakeReasons extends EventEmitter<{ adopted: [ReasonCatalog] }> {
  catalog: ReasonCatalog | null = null;
  current(): ReasonCatalog | null {
    return this.catalog;
  }
}

function rig(config: Record<string, unknown> = { output: 'terminal' }, speaker?: (timers: ManualTimers) => Player) {
  const timers = new ManualTimers();
  const events = new EventEmitter<BridgeEvents>();
  const player = new FakePlayer(timers);
  const reasons = new FakeReasons();
  const voice: VoiceOutput = voiceOutput(voiceConfigSchema.parse(config), '/tmp/unused/hcp.db', () => true, { player: speaker?.(timers) ?? player });
  const feature = new Voice({ events, timers, logger: silentLogger, reasons, voice });
  feature.start();
  /** Plays everything queued to its end. */
  const drain = async (): Promise<void> => {
    for (let i = 0; i < 50; i++) {
      await settle();
      if (!timers.advanceToNext()) break;
    }
    await settle();
  };
  return { timers, events, player, voice, feature, reasons, drain };
}

const closed = (outcome: StoredInvitation['outcome']) => ({ outcome }) as StoredInvitation;
const invitation = { id: 'inv-1' } as BridgeEvents['invitation'][0];

describe('voice prompts at the counter', () => {
  it('says the invite prompt, then the thanks after a rating', async () => {
    const { events, player, voice, drain } = rig();
    events.emit('invitation', invitation);
    await drain();
    events.emit('closed', closed('rated'));
    await drain();
    expect(player.log).toEqual(['invite', 'thanks']);
    expect(voice.status()).toMatchObject({ configured: true, output: 'terminal', played: 2, failed: 0, cut: 0, fault: false });
  });

  it('cuts the invite prompt still playing when the rating comes: the thanks is said at once', async () => {
    const { events, player, voice, timers, drain } = rig();
    events.emit('invitation', invitation);
    await settle();
    timers.advance(300);
    events.emit('closed', closed('rated'));
    await drain();
    expect(player.log).toEqual(['invite', 'thanks']);
    expect(voice.status()).toMatchObject({ played: 1, cut: 1 });
  });

  it('a player that fails when it is stopped was cut, not failing: no alarm', async () => {
    const { events, voice, drain } = rig({ output: 'terminal' }, (timers) => ({
      play: (_u, signal) =>
        new Promise((resolve, reject) => {
          const handle = timers.setTimeout(() => resolve('played'), 1000);
          signal.addEventListener('abort', () => {
            timers.clearTimeout(handle);
            reject(new PlaybackError('aplay ended by SIGTERM'));
          });
        }),
    }));
    events.emit('invitation', invitation);
    await settle();
    events.emit('closed', closed('rated'));
    await drain();
    expect(voice.status()).toMatchObject({ played: 1, cut: 1, failed: 0, fault: false });
  });

  it('reads the offered reasons in button order, each key prompt followed by its label', async () => {
    const { events, player, drain } = rig();
    const reasons: OfferedReason[] = [
      { button: 1, code: 'R2', label: '态度不好' },
      { button: 0, code: 'R1', label: '办理时间长' },
    ];
    events.emit('invitation', invitation);
    await settle();
    events.emit('choosing', { invitationId: 'inv-1', reasons, via: 'terminal' });
    await drain();
    expect(player.log).toEqual(['invite', 'reasons', 'reason_key_1', 'label:办理时间长', 'reason_key_2', 'label:态度不好']);
  });

  it('with readReasons false, says nothing between the bad grade and the thanks (the counter hears no hint of the grade)', async () => {
    const { events, player, drain } = rig({ output: 'terminal', readReasons: false });
    events.emit('invitation', invitation);
    await drain();
    events.emit('choosing', { invitationId: 'inv-1', reasons: [{ button: 0, code: 'R1', label: '办理时间长' }], via: 'terminal' });
    await drain();
    events.emit('closed', closed('rated'));
    await drain();
    expect(player.log).toEqual(['invite', 'thanks']);
  });

  it('the thanks after a reason cuts the reading of the reasons', async () => {
    const { events, player, timers, drain } = rig();
    events.emit('choosing', { invitationId: 'inv-1', reasons: [{ button: 0, code: 'R1', label: '办理时间长' }], via: 'terminal' });
    await settle();
    timers.advance(1500); // into the second utterance
    await settle();
    events.emit('closed', closed('rated'));
    await drain();
    expect(player.log).toEqual(['reasons', 'reason_key_1', 'thanks']);
  });

  it('on the customer screen the reasons are shown, not read with buttons: only 请选择不满意的原因 is said', async () => {
    const { events, player, drain } = rig();
    events.emit('choosing', { invitationId: 'inv-1', reasons: [{ button: 0, code: 'R1', label: '办理时间长' }], via: 'screen' });
    await drain();
    expect(player.log).toEqual(['reasons']);
  });

  it('says the timeout when nobody rated, and nothing when staff cancelled (cutting the invite prompt)', async () => {
    const { events, player, voice, drain } = rig();
    events.emit('invitation', invitation);
    await drain();
    events.emit('closed', closed('not_rated'));
    await drain();
    events.emit('invitation', invitation);
    await settle();
    events.emit('closed', closed('cancelled'));
    await drain();
    expect(player.log).toEqual(['invite', 'timeout', 'invite']);
    expect(voice.status()).toMatchObject({ played: 2, cut: 1 });
  });

  it('says paused and resumed; announcements wait their turn and are not queued twice', async () => {
    const { events, player, drain } = rig();
    events.emit('paused', { paused: true, actor: 'S1' });
    await settle();
    events.emit('announce', 'one_metre_line');
    events.emit('announce', 'one_metre_line');
    events.emit('announce', 'greeting');
    await drain();
    events.emit('paused', { paused: false, actor: 'S1' });
    await drain();
    expect(player.log).toEqual(['paused', 'one_metre_line', 'greeting', 'resumed']);
  });

  it('a failing player raises the sound_device alarm, never throws into the caller, and clears when a prompt plays', async () => {
    const { events, player, voice, drain } = rig();
    player.fail = 'no sound card for ALSA device "default"';
    expect(() => events.emit('invitation', invitation)).not.toThrow();
    await drain();
    const status = voice.status();
    expect(status).toMatchObject({ failed: 1, fault: true, lastError: 'no sound card for ALSA device "default"' });
    expect(alarms({ ...healthy, soundFault: status.configured && status.fault })).toEqual(['sound_device']);
    player.fail = null;
    events.emit('closed', closed('rated'));
    await drain();
    expect(voice.status()).toMatchObject({ failed: 1, played: 1, fault: false, lastError: 'no sound card for ALSA device "default"' });
  });

  it('the log names neither the prompt nor its words: the reasons prompt and a label would tell a bad grade', async () => {
    const lines: string[] = [];
    const timers = new ManualTimers();
    const events = new EventEmitter<BridgeEvents>();
    const player = new FakePlayer(timers);
    player.fail = 'no sound card for ALSA device "default"';
    const logger = pino({ level: 'trace' }, new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(chunk.toString('utf8')), done()) }));
    const voice = voiceOutput(voiceConfigSchema.parse({ output: 'terminal' }), '/tmp/unused/hcp.db', () => true, { player });
    new Voice({ events, timers, logger, reasons: new FakeReasons(), voice }).start();
    events.emit('choosing', { invitationId: 'inv-1', reasons: [{ button: 0, code: 'R1', label: '办理时间长' }], via: 'terminal' });
    await settle();
    player.fail = null;
    events.emit('closed', closed('rated'));
    for (let i = 0; i < 10; i++) {
      await settle();
      timers.advanceToNext();
    }
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['a voice prompt could not be played (alarm sound_device)', 'voice prompts play again (alarm sound_device cleared)']);
    expect(lines.join('')).not.toMatch(/不满意|办理时间长|reason/);
  });

  it('a player that never comes back is stopped after maxPromptSeconds and counted as failed; the next prompt plays', async () => {
    const { events, player, voice, timers, drain } = rig({ output: 'terminal', maxPromptSeconds: 5 });
    player.hang = true;
    events.emit('invitation', invitation);
    await settle();
    timers.advance(5000);
    await settle();
    expect(voice.status()).toMatchObject({ failed: 1, fault: true });
    expect(voice.status()).toMatchObject({ lastError: 'a prompt did not finish within 5 s: stopped (is the sound device hung?)' });
    player.hang = false;
    events.emit('closed', closed('rated'));
    await drain();
    expect(voice.status()).toMatchObject({ played: 1, fault: false });
  });

  it('after stop() nothing more is said', async () => {
    const { events, player, feature, drain } = rig();
    await feature.stop();
    events.emit('invitation', invitation);
    await drain();
    expect(player.log).toEqual([]);
    expect(events.listenerCount('closed')).toBe(0);
  });
});

describe('the terminal as the speaker (output terminal)', () => {
  it('sends each prompt as its clip number; a reason label has no clip and is skipped', async () => {
    const said: number[] = [];
    const player = new TerminalPlayer((clip) => (said.push(clip), true));
    expect(await player.play({ kind: 'prompt', name: 'invite' })).toBe('played');
    expect(await player.play({ kind: 'prompt', name: 'reason_key_3' })).toBe('played');
    expect(await player.play({ kind: 'label', code: 'R1', text: '办理时间长' })).toBe('skipped');
    expect(said).toEqual([1, 13]);
  });

  it('with no terminal connected, the prompt fails with a clear error', async () => {
    const player = new TerminalPlayer(() => false);
    await expect(player.play({ kind: 'prompt', name: 'thanks' })).rejects.toThrow('the terminal is not connected: clip 2 was not sent');
  });
});

describe('utterances', () => {
  it('describe themselves with their words', () => {
    expect(describeUtterance({ kind: 'prompt', name: 'thanks' })).toBe('thanks (谢谢您的评价)');
    expect(describeUtterance({ kind: 'label', code: 'R1', text: '办理时间长' })).toBe('reason R1 (办理时间长)');
  });
});

const healthy = { terminalAlive: true, terminalReplaced: false, brokerConnected: true, clockSynced: true, storageFull: false, storageFault: null, quarantined: 0, printer: null, soundFault: false };
