import QRCode from 'qrcode';
import type { StoredInvitation } from '../../protocol/records.js';
import type { StaffActionEntry } from '../../protocol/staff-actions.js';
import type { Announcement } from '../../protocol/voice-prompts.js';
import type { BridgeEvents } from '../bridge-events.js';
import type { OpenInvitation } from '../desk/invitation-desk.js';
import type { Feature, FeatureContext } from '../features/feature.js';
import { errorText } from '../diagnose/check.js';
import type { ScreenConfig } from './config.js';
import { ScreenPairing } from './screen-pairing.js';
import { ScreenServer } from './screen-server.js';
import { ScreenState } from './screen-state.js';

export type CustomerScreenContext = Pick<FeatureContext, 'events' | 'config' | 'timers' | 'clock' | 'logger' | 'receipts' | 'desk' | 'staffCards' | 'settings' | 'transaction'>;

/** How often the screen tries its address again while it cannot listen there (another program holds screen.port). */
export const SCREEN_RETRY_MS = 10_000;

/**
 * The customer screen in the bridge's status (hcp status): where it is served, or why not yet;
 * how many pages follow it (server-sent event streams) and how many tablets are paired. Nothing
 * about grades: the counter reads this status too.
 */
export type ScreenStatus =
  | { configured: false }
  | {
      configured: true;
      /** Where the page is served, e.g. http://127.0.0.1:8081/; null while it cannot listen. */
      url: string | null;
      /** Why it cannot listen (e.g. screen.port held by another program); it tries again every SCREEN_RETRY_MS. */
      listenError: string | null;
      /** Pages following the state now (the kiosk, tablets). */
      following: number;
      pairedTablets: number;
    };

/**
 * The customer screen (docs/customer-screen.md): a page on its own port for the screen facing
 * the citizen, kept up to date from the bridge's events, and the citizen's touches passed to the
 * desk as presses on the screen channel. The receipt's QR code is shown after each invitation
 * that got one, so that the citizen can rate later or keep it.
 */
export class CustomerScreen implements Feature {
  private readonly state: ScreenState;
  private readonly server: ScreenServer;
  private readonly pairing: ScreenPairing;
  private listenError: string | null = null;
  /** The listen under way (at start or a retry), and the retry's timer: stop() waits for the one and clears the other. */
  private attempt: Promise<void> | undefined;
  private retry: unknown;
  private stopped = false;

  /** `retryMs`: how often a screen that cannot listen tries again (SCREEN_RETRY_MS). */
  constructor(
    private readonly ctx: CustomerScreenContext,
    private readonly screen: ScreenConfig,
    private readonly retryMs: number = SCREEN_RETRY_MS,
  ) {
    const { terminal } = ctx.config;
    this.state = new ScreenState({ hallName: terminal.hallName ?? terminal.hallCode, windowNo: terminal.windowNo, timers: ctx.timers, thanksMs: screen.thanksSeconds * 1000 });
    const pairing = (this.pairing = new ScreenPairing({ settings: ctx.settings, transaction: ctx.transaction, now: () => ctx.clock.now() }));
    this.server = new ScreenServer({ state: this.state, desk: ctx.desk, pairing, allowedHosts: screen.allowedHosts, timers: ctx.timers, logger: ctx.logger });
  }

  status(): ScreenStatus {
    return {
      configured: true,
      url: this.server.server.listening ? this.server.url : null,
      listenError: this.listenError,
      following: this.server.following,
      pairedTablets: this.pairing.screens().length,
    };
  }

  async start(): Promise<void> {
    const { desk, events } = this.ctx;
    this.state.restore(desk.staffId === null ? null : this.card(desk.staffId), desk.paused, desk.current());
    events.on('invitation', this.onInvitation);
    events.on('choosing', this.onChoosing);
    events.on('closed', this.onClosed);
    events.on('paused', this.onPaused);
    events.on('announce', this.onAnnounce);
    events.on('staffAction', this.onStaffAction);
    this.ctx.receipts?.on('queued', this.onReceipt);
    await (this.attempt = this.listen());
  }

  /**
   * The screen is an extra: when its address cannot be had (another program on screen.port), the
   * bridge rates without it, says why (log and status), and tries again every retryMs until it listens.
   */
  private async listen(): Promise<void> {
    const { logger, timers } = this.ctx;
    try {
      await this.server.listen(this.screen);
    } catch (err) {
      const why = errorText(err);
      // Said once, not every retry: again only when the reason changes.
      if (why !== this.listenError) {
        logger.error({ retrySeconds: this.retryMs / 1000 }, `customer screen not served: ${why}. The bridge rates without it, and tries again every ${this.retryMs / 1000} s`);
      }
      this.listenError = why;
      if (!this.stopped) this.retry = timers.setTimeout(() => void (this.attempt = this.listen()), this.retryMs);
      return;
    }
    logger.info({ url: this.server.url }, this.listenError === null ? 'customer screen served' : 'customer screen served at last: its address is free now');
    this.listenError = null;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.ctx.timers.clearTimeout(this.retry);
    await this.attempt;
    const { events } = this.ctx;
    events.off('invitation', this.onInvitation);
    events.off('choosing', this.onChoosing);
    events.off('closed', this.onClosed);
    events.off('paused', this.onPaused);
    events.off('announce', this.onAnnounce);
    events.off('staffAction', this.onStaffAction);
    this.ctx.receipts?.off('queued', this.onReceipt);
    this.state.stop();
    await this.server.stop();
  }

  private card(staffId: string) {
    const card = this.ctx.staffCards.card(staffId);
    return this.screen.showStars ? card : { ...card, stars: null };
  }

  /** Each invitation shows the card as it is now: a roster or stars the province sent since the sign-in. */
  private readonly onInvitation = (open: OpenInvitation): void => {
    this.state.staff(this.card(open.staffId));
    this.state.invitation(open);
  };
  private readonly onChoosing = ({ invitationId, reasons, via }: BridgeEvents['choosing'][0]): void => this.state.choosing(invitationId, reasons, via);
  private readonly onClosed = (record: StoredInvitation): void => this.state.closed(record);
  private readonly onPaused = ({ paused }: BridgeEvents['paused'][0]): void => this.state.paused(paused);
  private readonly onAnnounce = (what: Announcement): void => this.state.announce(what);

  private readonly onStaffAction = (entry: StaffActionEntry): void => {
    if (entry.action === 'sign_in' && entry.actor !== null) this.state.staff(this.card(entry.actor));
    if (entry.action === 'sign_out') this.state.staff(null);
  };

  /** The receipt's QR code, drawn here as the printer draws it: the same URL, as an SVG image. */
  private readonly onReceipt = ({ invitationId, url }: { invitationId: string; url: string }): void => {
    QRCode.toString(url, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 }).then(
      (svg) => this.state.receipt(invitationId, `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`),
      (err: unknown) => this.ctx.logger.warn({ err, invitationId }, 'customer screen: the receipt QR code could not be drawn'),
    );
  };
}
