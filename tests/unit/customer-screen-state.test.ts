import { describe, expect, it } from 'vitest';
import type { OpenInvitation } from '../../bridge/desk/invitation-desk.js';
import { ScreenPairing, screenToken, PAIRING_CODE_MS, PAIRING_CODE_TRIES, MAX_PAIRED_SCREENS } from '../../bridge/screen/screen-pairing.js';
import { BANNER_MS, ScreenState, type ScreenView } from '../../bridge/screen/screen-state.js';
import { ScreenServer } from '../../bridge/screen/screen-server.js';
import { ConfigError } from '../../bridge/config.js';
import { silentLogger } from '../../bridge/log.js';
import { StaffCards } from '../../bridge/screen/staff-cards.js';
import { GRADES, GRADE_INFO } from '../../protocol/grades.js';
import { signInRequestSchema } from '../../protocol/http-api.js';
import { staffRosterSchema, type StaffRoster } from '../../protocol/province-config.js';
import { PROMPTS } from '../../protocol/voice-prompts.js';
import { STAFF_PHOTO_MAX_BYTES, staffPhotoSchema } from '../../protocol/staff-photo.js';
import { ManualTimers } from '../support/manual-timers.js';

const THANKS_MS = 15_000;

function screen(): { state: ScreenState; timers: ManualTimers; views: ScreenView[] } {
  const timers = new ManualTimers();
  const state = new ScreenState({ hallName: '市民中心', windowNo: '3', timers, thanksMs: THANKS_MS });
  const views: ScreenView[] = [];
  state.on('change', (view) => views.push(view));
  return { state, timers, views };
}

const open = (over: Partial<OpenInvitation> = {}): OpenInvitation => ({
  id: 'inv-1',
  staffId: 'S1001',
  services: [{ itemCode: '11330000MB0000000X', itemName: '不动产登记', caseNo: 'C-1' }],
  mode: 'single',
  proxy: false,
  test: false,
  invitedAt: '2026-11-30T10:00:00.000Z',
  timeoutMs: 30_000,
  flags: [],
  ...over,
});

const REASONS = [
  { button: 0, code: 'R01', label: '服务态度差' },
  { button: 1, code: 'R02', label: '办事效率低' },
];

/** A JPEG's first bytes, base64: enough for the schema's check of what the bytes are. */
const jpeg = (bytes = 64): string => `data:image/jpeg;base64,${Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(bytes - 4, 7)]).toString('base64')}`;
const png = `data:image/png;base64,${Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(40)]).toString('base64')}`;

describe('the customer screen state', () => {
  it('shows the invitation with its item names (a code when unnamed, each once), then the thanks for its whole time, then waits again', () => {
    const { state, timers } = screen();
    state.invitation(open({ services: [{ itemCode: 'A', itemName: '不动产登记', caseNo: 'C-1' }, { itemCode: 'A', itemName: '不动产登记', caseNo: 'C-2' }, { itemCode: 'B', caseNo: 'C-3' }], mode: 'theme' }));
    expect(state.view.phase).toEqual({ kind: 'invited', invitationId: 'inv-1', items: ['不动产登记', 'B'], mode: 'theme', proxy: false });
    state.closed({ id: 'inv-1', outcome: 'rated' });
    expect(state.view.phase).toEqual({ kind: 'closed', invitationId: 'inv-1', outcome: 'rated', qr: null });
    timers.advance(THANKS_MS - 1);
    expect(state.view.phase.kind).toBe('closed');
    timers.advance(1);
    expect(state.view.phase).toEqual({ kind: 'idle' });
  });

  it('the reasons after a bad grade, by who offers them: the terminal (labelled buttons) or the screen; only for the invitation shown', () => {
    const { state } = screen();
    state.invitation(open());
    state.choosing('another', REASONS, 'terminal');
    expect(state.view.phase.kind).toBe('invited');
    state.choosing('inv-1', REASONS, 'terminal');
    expect(state.view.phase).toEqual({ kind: 'reasons', invitationId: 'inv-1', via: 'terminal', reasons: [{ button: 0, label: '服务态度差' }, { button: 1, label: '办事效率低' }] });
    state.closed({ id: 'inv-1', outcome: 'rated' });
    state.choosing('inv-1', REASONS, 'screen');
    expect(state.view.phase.kind).toBe('closed');
  });

  it('the receipt QR code joins the thanks of its own invitation only', () => {
    const { state, timers } = screen();
    state.invitation(open());
    state.receipt('inv-1', 'data:image/svg+xml;base64,AAAA');
    expect(state.view.phase.kind).toBe('invited');
    state.closed({ id: 'inv-1', outcome: 'not_rated' });
    state.receipt('other', 'data:image/svg+xml;base64,BBBB');
    expect(state.view.phase).toMatchObject({ qr: null });
    state.receipt('inv-1', 'data:image/svg+xml;base64,AAAA');
    expect(state.view.phase).toEqual({ kind: 'closed', invitationId: 'inv-1', outcome: 'not_rated', qr: 'data:image/svg+xml;base64,AAAA' });
    timers.advance(THANKS_MS);
    state.receipt('inv-1', 'data:image/svg+xml;base64,AAAA');
    expect(state.view.phase).toEqual({ kind: 'idle' });
  });

  it('a new invitation during the thanks replaces it, and the thanks timer no longer sends the screen to idle', () => {
    const { state, timers } = screen();
    state.invitation(open());
    state.closed({ id: 'inv-1', outcome: 'rated' });
    timers.advance(1000);
    state.invitation(open({ id: 'inv-2' }));
    timers.advance(THANKS_MS);
    expect(state.view.phase).toMatchObject({ kind: 'invited', invitationId: 'inv-2' });
  });

  it('an announcement is a banner for a while; a second one restarts its time; an invitation clears it', () => {
    const { state, timers } = screen();
    state.announce('greeting');
    expect(state.view.banner).toBe(PROMPTS.greeting.text);
    timers.advance(BANNER_MS - 1000);
    state.announce('one_metre_line');
    timers.advance(1000);
    expect(state.view.banner).toBe('请在一米线外等候');
    timers.advance(BANNER_MS - 1000);
    expect(state.view.banner).toBeNull();
    state.announce('greeting');
    state.invitation(open());
    expect(state.view.banner).toBeNull();
  });

  it('paused, the staff card, and where the desk is at start: an invitation open (not one staff cancelled)', () => {
    const { state } = screen();
    const card = { staffId: 'S1001', name: '张三', title: null, photo: null, stars: 4.5 };
    state.restore(card, true, open());
    expect(state.view).toMatchObject({ staff: card, paused: true, phase: { kind: 'invited' } });
    state.restore(null, false, open({ cancelled: { at: '2026-11-30T10:00:01.000Z', clock: { bootId: 'b', monoMs: 1, synced: true, wallAt: '' } as never, reason: 'wrong_case' as never } }));
    expect(state.view).toMatchObject({ staff: null, paused: false, phase: { kind: 'idle' } });
    state.paused(true);
    state.staff(card);
    expect(state.view).toMatchObject({ staff: card, paused: true });
  });

  it('never carries a grade: a rated record with its grade and reason gives the outcome only, and every view counts up', () => {
    for (const grade of GRADES) {
      const { state, views } = screen();
      state.invitation(open());
      state.choosing('inv-1', REASONS, 'screen');
      const record = { id: 'inv-1', outcome: 'rated' as const, rating: { grade, reasons: ['R01'], reasonCatalogVersion: '1', pressedAt: '', latencyMs: 900 } };
      state.closed(record);
      const text = JSON.stringify(views);
      expect(text).not.toContain(grade);
      expect(text).not.toContain(GRADE_INFO[grade].zh);
      expect(text).not.toContain('R01');
      expect(views.map((view) => view.seq)).toEqual([1, 2, 3]);
    }
  });
});

/** Settings in memory; its transaction runs the change as the database's would. */
function memorySettings(): { get(key: string): string | undefined; set(key: string, value: string | null): void } {
  const map = new Map<string, string>();
  return { get: (key) => map.get(key), set: (key, value) => (value === null ? map.delete(key) : map.set(key, value)) };
}

describe('pairing a tablet', () => {
  const pairing = (now: { t: number }) => new ScreenPairing({ settings: memorySettings(), transaction: (fn) => fn(), now: () => new Date(now.t) });

  it('the one-time code pairs one tablet, with a token whose hash alone is kept; the code is then used up', () => {
    const now = { t: Date.parse('2026-11-30T10:00:00Z') };
    const settings = memorySettings();
    const p = new ScreenPairing({ settings, transaction: (fn) => fn(), now: () => new Date(now.t) });
    const { code, expiresAt } = p.offer();
    expect(code).toMatch(/^\d{6}$/);
    expect(expiresAt.getTime() - now.t).toBe(PAIRING_CODE_MS);
    const redeemed = p.redeem(code);
    if (!redeemed.ok) throw new Error(redeemed.message);
    expect(redeemed.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(p.isPaired(redeemed.token)).toBe(true);
    expect(p.isPaired(`${redeemed.token}x`)).toBe(false);
    expect(p.isPaired(undefined)).toBe(false);
    const stored = settings.get('screen.pairing') ?? '';
    expect(stored).not.toContain(redeemed.token);
    expect(stored).not.toContain(code);
    expect(p.redeem(code)).toMatchObject({ ok: false });
    expect(p.screens()).toEqual([redeemed.screen]);
  });

  it('a code expires, and is void after its wrong tries', () => {
    const now = { t: 0 };
    const p = pairing(now);
    const { code } = p.offer();
    now.t += PAIRING_CODE_MS;
    expect(p.redeem(code)).toMatchObject({ ok: false, message: expect.stringContaining('no pairing code is waiting') });
    const fresh = p.offer().code;
    const wrong = fresh === '000000' ? '000001' : '000000';
    for (let i = 1; i < PAIRING_CODE_TRIES; i += 1) expect(p.redeem(wrong)).toMatchObject({ ok: false, message: `wrong pairing code: ${PAIRING_CODE_TRIES - i} tries left` });
    expect(p.redeem(wrong)).toMatchObject({ ok: false, message: expect.stringContaining('now void') });
    expect(p.redeem(fresh)).toMatchObject({ ok: false });
  });

  it('revoked one by one or all; the oldest gives way past the limit', () => {
    const p = pairing({ t: 0 });
    const tokens: string[] = [];
    for (let i = 0; i < MAX_PAIRED_SCREENS + 1; i += 1) {
      const r = p.redeem(p.offer().code);
      if (r.ok) tokens.push(r.token);
    }
    expect(p.screens()).toHaveLength(MAX_PAIRED_SCREENS);
    expect(p.isPaired(tokens[0])).toBe(false);
    const [first] = p.screens();
    expect(p.revoke(first!.id)).toBe(1);
    expect(p.isPaired(tokens[1])).toBe(false);
    expect(p.isPaired(tokens[2])).toBe(true);
    expect(p.revoke('all')).toBe(MAX_PAIRED_SCREENS - 1);
    expect(p.isPaired(tokens[2])).toBe(false);
  });

  it('a hand-edited pairing row pairs nothing', () => {
    const settings = memorySettings();
    settings.set('screen.pairing', '{"code":null,"screens":[{"id":"zz","hash":"x","pairedAt":"y"}]}');
    expect(new ScreenPairing({ settings, transaction: (fn) => fn(), now: () => new Date() }).screens()).toEqual([]);
  });

  it('reads the cookie among others', () => {
    expect(screenToken('a=1; hcp_screen=abc_-1; b=2')).toBe('abc_-1');
    expect(screenToken(undefined)).toBeUndefined();
  });
});

describe('the staff card', () => {
  const roster: StaffRoster = staffRosterSchema.parse({
    version: 'r1',
    staff: [{ staffId: 'S1001', name: '张三', title: '综合受理', photo: jpeg(), pin: { kdf: 'scrypt', N: 4096, r: 8, p: 1, salt: Buffer.alloc(16).toString('base64'), hash: Buffer.alloc(32).toString('base64') } }],
  });

  it("the business system's name and photo first, for the one it signed in; else the roster's; stars when given", () => {
    const settings = memorySettings();
    const cards = new StaffCards({ settings, roster: () => roster, stars: (id) => (id === 'S1001' ? 4.5 : null) });
    expect(cards.card('S1001')).toEqual({ staffId: 'S1001', name: '张三', title: '综合受理', photo: jpeg(), stars: 4.5 });
    cards.vouched('S1001', { name: '张三丰', photo: png });
    expect(cards.card('S1001')).toMatchObject({ name: '张三丰', photo: png, title: '综合受理' });
    cards.vouched('S2002', { name: '李四' });
    expect(cards.card('S1001')).toMatchObject({ name: '张三', photo: jpeg() });
    expect(cards.card('S2002')).toEqual({ staffId: 'S2002', name: '李四', title: null, photo: null, stars: null });
    expect(new StaffCards({ settings: memorySettings(), roster: () => null }).card('S9')).toEqual({ staffId: 'S9', name: null, title: null, photo: null, stars: null });
  });
});

describe('staff photos', () => {
  it('takes a JPEG or PNG data: URL up to the bound, and refuses what is not one, with why', () => {
    expect(staffPhotoSchema.safeParse(jpeg()).success).toBe(true);
    expect(staffPhotoSchema.safeParse(png).success).toBe(true);
    expect(staffPhotoSchema.safeParse(jpeg(STAFF_PHOTO_MAX_BYTES)).success).toBe(true);
    const refusal = (value: string): string => staffPhotoSchema.safeParse(value).error?.issues[0]?.message ?? 'accepted';
    expect(refusal(jpeg(STAFF_PHOTO_MAX_BYTES + 3))).toContain('at most 48 KB');
    expect(refusal('https://example.com/a.jpg')).toContain('data: URL of a JPEG or PNG');
    expect(refusal('data:image/svg+xml;base64,PHN2Zz4=')).toContain('data: URL of a JPEG or PNG');
    expect(refusal(png.replace('image/png', 'image/jpeg'))).toContain('not a JPEG');
    expect(refusal('data:image/png;base64,@@@@')).toContain('not valid base64');
  });

  it('a sign-in body may carry name and photo (the API takes them from the business system only)', () => {
    expect(signInRequestSchema.safeParse({ staffId: 'S1', name: '张三', photo: jpeg() }).success).toBe(true);
    expect(signInRequestSchema.safeParse({ staffId: 'S1', photo: 'x' }).success).toBe(false);
  });
});

describe('the screen server', () => {
  it('a port another program holds is refused as a setting to fix, naming screen.port', async () => {
    const make = (timers: ManualTimers) => {
      const state = new ScreenState({ hallName: 'h', windowNo: '1', timers, thanksMs: 15_000 });
      const pairing = new ScreenPairing({ settings: memorySettings(), transaction: (fn) => fn(), now: () => new Date() });
      const refuse = (): never => {
        throw new Error('not called');
      };
      return new ScreenServer({ state, desk: { screenPress: refuse, screenReason: refuse }, pairing, allowedHosts: [], timers, logger: silentLogger });
    };
    const first = make(new ManualTimers());
    await first.listen({ host: '127.0.0.1', port: 0 });
    const port = Number(new URL(first.url).port);
    const second = make(new ManualTimers());
    const refused = await second.listen({ host: '127.0.0.1', port }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as Error).message).toBe(`screen.port: 127.0.0.1:${port} is in use by another program (another hcp run?): stop it, or choose another port`);
    await first.stop();
  });
});
