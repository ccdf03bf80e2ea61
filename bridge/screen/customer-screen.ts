import QRCode from 'qrcode';
import type { StoredInvitation } from '../../protocol/records.js';
import type { StaffActionEntry } from '../../protocol/staff-actions.js';
import type { Announcement } from '../../protocol/voice-prompts.js';
import type { BridgeEvents } from '../bridge-events.js';
import type { OpenInvitation } from '../desk/invitation-desk.js';
import type { Feature, FeatureContext } from '../features/feature.js';
import type { ScreenConfig } from './config.js';
import { ScreenPairing } from './screen-pairing.js';
import { ScreenServer } from './screen-server.js';
import { ScreenState } from './screen-state.js';

export type CustomerScreenContext = Pick<FeatureContext, 'events' | 'config' | 'timers' | 'clock' | 'logger' | 'receipts' | 'desk' | 'staffCards' | 'settings' | 'transaction'>;

/**
 * The customer screen (docs/customer-screen.md): a page on its own port for the screen facing
 * the citizen, kept up to date from the bridge's events, and the citizen's touches passed to the
 * desk as presses on the screen channel. The receipt's QR code is shown after each invitation
 * that got one, so that the citizen can rate later or keep it.
 */
export class CustomerScreen implements Feature {
  private readonly state: ScreenState;
  private readonly server: ScreenServer;

  constructor(
    private readonly ctx: CustomerScreenContext,
    private readonly screen: ScreenConfig,
  ) {
    const { terminal } = ctx.config;
    this.state = new ScreenState({ hallName: terminal.hallName ?? terminal.hallCode, windowNo: terminal.windowNo, timers: ctx.timers, thanksMs: screen.thanksSeconds * 1000 });
    const pairing = new ScreenPairing({ settings: ctx.settings, transaction: ctx.transaction, now: () => ctx.clock.now() });
    this.server = new ScreenServer({ state: this.state, desk: ctx.desk, pairing, allowedHosts: screen.allowedHosts, timers: ctx.timers, logger: ctx.logger });
  }

  /** Where the page is served (after start). */
  get url(): string {
    return this.server.url;
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
    await this.server.listen(this.screen);
    this.ctx.logger.info({ url: this.server.url }, 'customer screen served');
  }

  async stop(): Promise<void> {
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
