import type { ReasonCatalog } from '../../protocol/province-config.js';
import type { Announcement } from '../../protocol/voice-prompts.js';
import type { OfferedReason } from '../bridge-events.js';
import type { StoredInvitation } from '../../protocol/records.js';
import { PromptQueue, type UtteranceEnd } from '../voice/prompt-queue.js';
import { prompt, reasonsScript, type Utterance } from '../voice/utterance.js';
import type { VoiceOutput } from '../voice/voice-output.js';
import type { Feature, FeatureContext } from './feature.js';

type VoiceContext = Pick<FeatureContext, 'events' | 'timers' | 'logger' | 'reasons'> & { voice: VoiceOutput };

/**
 * Spoken prompts at the counter (docs/audio.md): the invitation, the thanks, the reasons offered
 * after a bad grade (each with its button), the timeout, pause and resume, and staff's greeting
 * and 一米线 announcements. Each bridge event only queues what is to be said: the rating path
 * never waits for a sound, and a sound device that fails raises the sound_device alarm (status)
 * until a prompt plays again.
 */
export class Voice implements Feature {
  private queue: PromptQueue | undefined;

  constructor(private readonly ctx: VoiceContext) {}

  start(): void {
    const { events, voice, timers, reasons } = this.ctx;
    this.queue = new PromptQueue({ player: voice.player, timers, maxPromptMs: voice.config.maxPromptSeconds * 1000, onEnd: this.onEnd });
    events.on('invitation', this.onInvitation);
    events.on('closed', this.onClosed);
    events.on('choosing', this.onChoosing);
    events.on('paused', this.onPaused);
    events.on('announce', this.onAnnounce);
    reasons.on('adopted', this.prepare);
    // Made ahead in the background, so that the first invitation does not wait for the synthesizer.
    this.prepare(reasons.current());
  }

  stop(): void {
    const { events, reasons } = this.ctx;
    events.off('invitation', this.onInvitation);
    events.off('closed', this.onClosed);
    events.off('choosing', this.onChoosing);
    events.off('paused', this.onPaused);
    events.off('announce', this.onAnnounce);
    reasons.off('adopted', this.prepare);
    this.queue?.stop();
    this.ctx.voice.library?.close();
  }

  private say(utterances: Utterance[]): void {
    this.queue?.replace(utterances);
  }

  private readonly onInvitation = (): void => this.say([prompt('invite')]);

  /** Rated: thanks; not rated: the timeout; cancelled by staff: silence (what was playing for it is cut). */
  private readonly onClosed = (record: StoredInvitation): void => {
    this.say(record.outcome === 'rated' ? [prompt('thanks')] : record.outcome === 'not_rated' ? [prompt('timeout')] : []);
  };

  private readonly onChoosing = ({ reasons, via }: { reasons: OfferedReason[]; via: 'terminal' | 'screen' }): void => {
    if (!this.ctx.voice.config.readReasons) return;
    const script = reasonsScript(reasons, via);
    this.say(script);
    // The labels' sounds are made while 请选择不满意的原因 plays, if they are not cached yet.
    for (const u of script) if (u.kind === 'label') void this.ctx.voice.library?.fileFor(u);
  };

  private readonly onPaused = ({ paused }: { paused: boolean }): void => this.say([prompt(paused ? 'paused' : 'resumed')]);

  private readonly onAnnounce = (announcement: Announcement): void => this.queue?.append([prompt(announcement)]);

  /** Logged without the prompt's name or words: the reasons prompt and its labels would tell a bad grade (the log names none). */
  private readonly onEnd = (end: UtteranceEnd): void => {
    const { tally } = this.ctx.voice;
    const wasFaulty = tally.fault;
    tally.count(end);
    if (end.result === 'failed' && !wasFaulty) this.ctx.logger.warn({ err: end.error }, 'a voice prompt could not be played (alarm sound_device)');
    else if (end.result === 'played' && wasFaulty) this.ctx.logger.info('voice prompts play again (alarm sound_device cleared)');
  };

  /** Synthesizes what is missing: the default prompts and this catalogue's labels. */
  private readonly prepare = (catalog: ReasonCatalog | null): void => {
    const { library } = this.ctx.voice;
    if (!library) return;
    void library.prepare(catalog?.reasons.map((r) => ({ code: r.code, text: r.label })) ?? []).then((report) => {
      if (report.made.length || report.failed.length)
        this.ctx.logger.info({ made: report.made.length, failed: report.failed.map((f) => f.what), error: report.failed[0]?.error }, 'voice prompts synthesized');
    });
  };
}
