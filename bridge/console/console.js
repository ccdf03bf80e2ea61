// The staff console (窗口工作台): plain browser JavaScript, no build step, no framework, no
// network beyond this window's own bridge (same origin, HTTP API v1).
(function () {
  'use strict';

  const API = '/api/v1';
  const TOKEN_KEY = 'hcp.console.token';
  const STATUS_EVERY_MS = 2000;
  const INVITATION_EVERY_MS = 500;
  const STATS_EVERY_MS = 10000;

  /**
   * The words for alarm, refusal, printer and mode codes: the bridge's own lists (GET /api/v1/meta),
   * fetched before the first status is shown; null until then.
   */
  let meta = null;
  /** The one thing the bridge cannot say itself: that it cannot be reached. */
  const UNREACHABLE = '无法连接本窗口的桥接服务';
  /**
   * Flags staff may see about their own invitation: the terminal's health only. The honesty flags
   * (fast_press, grade_burst, …) are for the province's audit, not for the counter.
   */
  const FLAGS = {
    device_silent: '评价器无响应',
    terminal_reset: '评价器曾重启',
  };
  /** Shown beside the alarms while staff sign in unchecked (http.allowUnverifiedStaff, no roster yet). */
  const UNVERIFIED_STAFF = '签到未验证身份（尚未收到工作人员名单）';
  /** A cancel without a staff reason (the terminal's own, or from before reasons were asked). */
  const UNSTATED = '未注明原因';
  /** The header the technician token travels in; never kept by the page. */
  const TECHNICIAN_HEADER = 'x-hcp-technician-token';

  const $ = (id) => document.getElementById(id);
  const byTestId = (id) => document.querySelector('[data-testid="' + id + '"]');

  /** Empties a node (not replaceChildren: the window PC's browser may be an older Chromium). */
  function clear(node) {
    node.textContent = '';
    return node;
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  class ApiError extends Error {
    constructor(status, code, message, field) {
      super(message);
      this.status = status;
      this.code = code;
      this.field = field;
    }
  }

  // ---- the API, with the bearer token when the bridge wants one ----

  let tokenAsked = false;

  async function api(method, path, body, extraHeaders) {
    const headers = Object.assign({}, extraHeaders);
    if (body !== undefined) headers['content-type'] = 'application/json';
    // Calls without a body say they come from a program: the bridge refuses them otherwise (CSRF).
    else if (method !== 'GET') headers['x-hcp-request'] = '1';
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.authorization = 'Bearer ' + token;
    let res;
    try {
      res = await fetch(API + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch {
      throw new ApiError(0, 'network', UNREACHABLE);
    }
    const data = await res.json().catch(() => null);
    if (res.status === 401) {
      if (token) sessionStorage.removeItem(TOKEN_KEY);
      askToken(token ? '令牌不正确，请重新输入' : '');
    }
    if (!res.ok) {
      const error = (data && data.error) || {};
      throw new ApiError(res.status, error.code || 'error', error.message || 'HTTP ' + res.status, error.field);
    }
    return data;
  }

  /** Shows the token form (once: later refusals while it is open do not ask again). */
  function askToken(problem) {
    if (problem) $('token-error').textContent = problem;
    if (tokenAsked) return;
    tokenAsked = true;
    byTestId('token-form').hidden = false;
    $('token-input').value = '';
    $('token-input').focus();
  }

  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const token = $('token-input').value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    tokenAsked = false;
    byTestId('token-form').hidden = true;
    $('token-error').textContent = '';
    refreshAll();
  });

  /** Staff's words for a refusal code, once the bridge has said them ('' before). */
  function refusalWords(code) {
    const refusal = meta && meta.refusals[code];
    return refusal ? refusal.zh : '';
  }

  /** A refusal in Chinese first, with the bridge's own words after it. */
  function describeError(err) {
    const zh = refusalWords(err.code);
    if (!zh) return err.message;
    return err.code === 'unauthorized' ? zh : zh + '（' + err.message + '）';
  }

  // ---- header strip: window, hall, link, broker, backlog, printer, alarms ----

  /** Server time minus browser time, so countdowns follow the bridge's clock. */
  let clockOffsetMs = 0;
  /** Bumped by each action that changes staff or invitation; older status answers don't undo it. */
  let epoch = 0;

  function ago(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + ' 秒';
    if (s < 3600) return Math.floor(s / 60) + ' 分钟';
    if (s < 86400) return Math.floor(s / 3600) + ' 小时';
    return Math.floor(s / 86400) + ' 天';
  }

  function setState(testId, text, tone, title) {
    const node = byTestId(testId);
    const value = node.querySelector('i');
    value.textContent = text;
    node.className = 'state ' + (tone || '');
    node.title = title || '';
  }

  function renderStatus(s) {
    const t = s.terminal;
    byTestId('window-no').textContent = '窗口 ' + t.windowNo;
    byTestId('hall-name').textContent = t.hallName || t.hallCode;
    document.title = t.windowNo + ' 窗口评价 · ' + (t.hallName || t.hallCode);
    const terminal = s.link.terminal;
    setState(
      'state-terminal',
      s.link.alive ? '已连接' : '未连接',
      s.link.alive ? 'ok' : 'bad',
      terminal ? terminal.serial + '，固件 ' + terminal.fw : s.link.path,
    );
    setState('state-broker', s.broker.connected ? '已连接' : '中断', s.broker.connected ? 'ok' : 'bad', s.broker.url);
    const b = s.backlog;
    if (b.pending === 0) setState('state-backlog', '0', 'ok');
    else {
      const age = b.oldestPendingAgeMs === null ? '' : ' · 最早 ' + ago(b.oldestPendingAgeMs) + '前';
      setState('state-backlog', b.pending + ' 条' + age, b.oldestPendingAgeMs > 10 * 60 * 1000 ? 'bad' : 'warn');
    }
    if (!s.printer.configured) setState('state-printer', '未配置', 'muted');
    else {
      const { zh, tone } = meta.printerConditions[s.printer.condition] || { zh: s.printer.condition, tone: 'warn' };
      setState('state-printer', zh + (s.printer.pending ? ' · 待打印 ' + s.printer.pending : ''), tone);
    }
    const warnings = s.staffSignIn && s.staffSignIn.verification === 'unverified_allowed' ? [UNVERIFIED_STAFF] : [];
    renderAlarms(s.alarms.map((a) => meta.alarms[a] || a).concat(warnings));
  }

  /** An invitation's mode in words; the code itself if the words have not arrived yet. */
  function modeWord(mode) {
    return (meta && meta.modes[mode]) || mode;
  }

  /** The invitation form's mode choices, labelled with the bridge's words. */
  function renderModes() {
    for (const label of document.querySelectorAll('[data-mode-word]')) label.textContent = modeWord(label.dataset.modeWord);
  }

  function renderAlarms(texts) {
    const list = byTestId('alarms');
    clear(list);
    if (texts.length === 0) {
      list.append(el('li', 'fine', '运行正常'));
      return;
    }
    for (const text of texts) list.append(el('li', 'alarm', text));
  }

  function renderOffline(err) {
    for (const id of ['state-terminal', 'state-broker', 'state-backlog', 'state-printer']) setState(id, '—', 'muted');
    renderAlarms([describeError(err)]);
  }

  let statusTimer;
  async function pollStatus() {
    clearTimeout(statusTimer);
    const asked = epoch;
    try {
      if (!meta) {
        meta = await api('GET', '/meta');
        renderModes();
        renderCancelReasons();
      }
      const s = await api('GET', '/status');
      clockOffsetMs = Date.parse(s.clock.now) - Date.now();
      renderStatus(s);
      if (asked === epoch) {
        renderPaused(s.paused === true);
        renderStaff(s.staffId);
        if (s.invitation && (!current || current.id !== s.invitation.id)) track(s.invitation);
      }
    } catch (err) {
      if (err.status !== 401) renderOffline(err);
    } finally {
      // Whichever poll ends last sets the one timer: an extra poll never doubles the chain.
      clearTimeout(statusTimer);
      statusTimer = setTimeout(pollStatus, STATUS_EVERY_MS);
    }
  }

  // ---- staff sign-in / sign-out ----

  /** undefined until the first status answer: the form stays usable meanwhile. */
  let staffId;

  function renderStaff(id) {
    staffId = id;
    const now = $('staff-current');
    now.textContent = id || '未签到';
    now.className = id ? 'signed-in' : 'signed-out';
    $('sign-out').disabled = !id;
    renderInviteHint();
  }

  $('staff-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    $('staff-error').textContent = '';
    const id = $('staff-input').value.trim();
    const pin = $('pin-input').value;
    if (!id) {
      $('staff-error').textContent = '请输入工号';
      return;
    }
    epoch += 1;
    // The PIN leaves the field whatever the answer: it is never kept on the page.
    $('pin-input').value = '';
    try {
      const res = await api('POST', '/staff/sign-in', pin ? { staffId: id, pin } : { staffId: id });
      renderStaff(res.staffId);
      $('staff-input').value = '';
    } catch (err) {
      if (err.code !== 'invalid_request') $('staff-error').textContent = describeError(err);
      else if (err.field === 'pin') $('staff-error').textContent = /required/.test(err.message) ? '请输入签到密码' : '签到密码为 4-12 位数字';
      else $('staff-error').textContent = '工号格式不正确：' + stripField(err.message, 'staffId');
    }
  });

  $('sign-out').addEventListener('click', async () => {
    $('staff-error').textContent = '';
    epoch += 1;
    try {
      await api('POST', '/staff/sign-out');
      renderStaff(null);
    } catch (err) {
      $('staff-error').textContent = describeError(err);
    }
  });

  // ---- window service: pause (暂停服务) and back, the greeting and 一米线 prompts ----

  let paused = false;

  function renderPaused(now) {
    paused = now;
    $('pause').hidden = now;
    $('resume').hidden = !now;
    $('paused-badge').hidden = !now;
    document.body.classList.toggle('paused', now);
    renderInviteHint();
  }

  async function setPaused(now) {
    $('controls-error').textContent = '';
    $('controls-message').textContent = '';
    epoch += 1;
    try {
      const res = await api('POST', now ? '/staff/pause' : '/staff/resume');
      renderPaused(res.paused === true);
    } catch (err) {
      $('controls-error').textContent = describeError(err);
    }
  }

  $('pause').addEventListener('click', () => setPaused(true));
  $('resume').addEventListener('click', () => setPaused(false));

  for (const button of document.querySelectorAll('button.announce')) {
    button.addEventListener('click', async () => {
      $('controls-error').textContent = '';
      $('controls-message').textContent = '';
      try {
        await api('POST', '/announce', { prompt: button.dataset.prompt });
        $('controls-message').textContent = '已请评价器播报“' + button.textContent + '”';
      } catch (err) {
        $('controls-error').textContent = describeError(err);
      }
    });
  }

  // ---- the invitation form ----

  const rows = $('service-rows');
  const template = $('service-row');

  function mode() {
    return document.querySelector('input[name="mode"]:checked').value;
  }

  function serviceRows() {
    return Array.from(rows.querySelectorAll('tr.service'));
  }

  function addRow() {
    const row = template.content.firstElementChild.cloneNode(true);
    row.querySelector('.remove').addEventListener('click', () => {
      row.remove();
      renumber();
    });
    row.querySelector('.item-code').addEventListener('input', mirror);
    row.querySelector('.item-name').addEventListener('input', mirror);
    rows.append(row);
    renumber();
    return row;
  }

  /** Field names follow the API's paths (services.0.caseNo) so that its errors land next to them. */
  function renumber() {
    const all = serviceRows();
    all.forEach((row, i) => {
      row.querySelector('.item-code').dataset.field = 'services.' + i + '.itemCode';
      row.querySelector('.item-name').dataset.field = 'services.' + i + '.itemName';
      row.querySelector('.case-no').dataset.field = 'services.' + i + '.caseNo';
      row.querySelector('.remove').hidden = all.length === 1;
    });
    mirror();
  }

  /** A batch is several cases of one item: later rows take the first row's item. */
  function mirror() {
    const [first, ...rest] = serviceRows();
    const same = mode() !== 'theme';
    for (const row of rest) {
      for (const cls of ['.item-code', '.item-name']) {
        const input = row.querySelector(cls);
        input.disabled = same;
        if (same) input.value = first.querySelector(cls).value;
      }
    }
  }

  $('add-case').addEventListener('click', () => {
    if (mode() === 'single') document.querySelector('input[name="mode"][value="batch"]').checked = true;
    const row = addRow();
    (mode() === 'theme' ? row.querySelector('.item-code') : row.querySelector('.case-no')).focus();
  });
  for (const radio of document.querySelectorAll('input[name="mode"]')) radio.addEventListener('change', mirror);

  function clearFieldErrors() {
    for (const node of document.querySelectorAll('.field-error')) node.remove();
    for (const node of document.querySelectorAll('.invalid')) node.classList.remove('invalid');
    $('invite-error').textContent = '';
  }

  function stripField(message, field) {
    return message.startsWith(field + ': ') ? message.slice(field.length + 2) : message;
  }

  /** The bridge's words, with a Chinese gloss for the usual mistakes. */
  function glossFor(field, message) {
    const what = /caseNo$/.test(field) ? '办件编号' : /itemCode$/.test(field) ? '事项编码' : /itemName$/.test(field) ? '事项名称' : '';
    if (what && /required/.test(message)) return '请填写' + what;
    if (what && /too_big|at most|too long|<=/.test(message)) return what + '过长';
    if (/listed twice/.test(message)) return '办件编号重复';
    if (/several cases of one item/.test(message)) return '批量办件的事项编码须相同';
    if (/two or more services/.test(message)) return '批量或一件事须有两个及以上办件';
    if (/takes exactly one service/.test(message)) return '单件只能有一个办件，请选择批量或一件事';
    if (/mode is required/.test(message)) return '请选择方式：批量或一件事';
    return '';
  }

  function showFieldError(field, message) {
    const text = stripField(message, field);
    const gloss = glossFor(field, text);
    const box = el('div', 'field-error');
    box.dataset.testid = 'field-error';
    box.dataset.errorFor = field;
    if (gloss) box.append(el('strong', '', gloss), ' ');
    box.append(el('span', gloss ? 'detail' : '', text));
    const input = document.querySelector('[data-field="' + field + '"]');
    if (input && input.tagName === 'INPUT') {
      input.classList.add('invalid');
      input.after(box);
      return true;
    }
    const slot = document.querySelector('[data-slot="' + field + '"]');
    if (slot) {
      slot.append(box);
      return true;
    }
    return false;
  }

  /** An invalid_request names its first field; its message lists each problem as `path: what`. */
  function showInvalid(err) {
    const parts = err.message.split('; ');
    const general = [];
    let placed = false;
    for (const part of parts) {
      const m = /^([\w.]+): (.*)$/.exec(part);
      if (m && showFieldError(m[1], part)) placed = true;
      else general.push(part);
    }
    if (!placed && err.field && showFieldError(err.field, err.message)) general.length = 0;
    if (general.length) $('invite-error').textContent = general.join('；');
  }

  function resetForm() {
    const [first, ...rest] = serviceRows();
    for (const row of rest) row.remove();
    first.querySelector('.case-no').value = '';
    document.querySelector('input[name="mode"][value="single"]').checked = true;
    $('proxy').checked = false;
    $('test').checked = false;
    $('technician-token').value = '';
    $('technician-row').hidden = true;
    renumber();
  }

  $('invite-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFieldErrors();
    const all = serviceRows();
    const first = all[0];
    const sameItem = mode() !== 'theme';
    const services = all.map((row) => {
      const from = sameItem ? first : row;
      const service = {
        itemCode: from.querySelector('.item-code').value.trim(),
        caseNo: row.querySelector('.case-no').value.trim(),
      };
      const itemName = from.querySelector('.item-name').value.trim();
      if (itemName) service.itemName = itemName;
      return service;
    });
    const body = { services, mode: mode(), proxy: $('proxy').checked, test: $('test').checked };
    const technician = body.test && $('technician-token').value.trim() ? { [TECHNICIAN_HEADER]: $('technician-token').value.trim() } : undefined;
    const button = $('invite');
    button.disabled = true;
    epoch += 1;
    try {
      const invitation = await api('POST', '/invitations', body, technician);
      resetForm();
      track(invitation);
    } catch (err) {
      if (err.code === 'invalid_request') showInvalid(err);
      else $('invite-error').textContent = describeError(err);
      // Someone else's invitation, or a sign-out elsewhere: show the bridge's state now.
      if (err.code === 'invitation_open' || err.code === 'not_signed_in') void pollStatus();
    } finally {
      renderInviteHint();
    }
  });

  function renderInviteHint() {
    const open = current && current.state !== 'closed';
    const hint = open ? '请等待本次评价结束' : paused ? refusalWords('window_paused') : staffId === null ? refusalWords('not_signed_in') : '';
    $('invite-hint').textContent = hint;
    $('invite').disabled = Boolean(hint);
    // Pausing waits for the invitation's outcome, as the bridge does.
    $('pause').disabled = Boolean(open);
  }

  // ---- the open invitation, its countdown, and its outcome ----

  /** { id, inv, state: 'open' | 'cancelling' | 'closed', view } */
  let current = null;
  let invitationTimer;

  function track(inv) {
    clearTimeout(invitationTimer);
    current = { id: inv.id, inv, state: 'open', view: null };
    showMessage('');
    renderInvitation();
    invitationTimer = setTimeout(pollInvitation, INVITATION_EVERY_MS);
  }

  async function pollInvitation() {
    if (!current || current.state === 'closed') return;
    const id = current.id;
    try {
      const view = await api('GET', '/invitations/' + encodeURIComponent(id));
      if (!current || current.id !== id) return;
      if (view.state === 'closed') {
        current.state = 'closed';
        current.view = view;
        renderInvitation();
        void refreshStats();
        return;
      }
    } catch (err) {
      if (current && current.id === id && err.status !== 401) showMessage(describeError(err), 'bad');
      if (err.status === 404) return; // the bridge no longer knows it: nothing more to wait for
    }
    if (current && current.id === id && current.state !== 'closed') {
      clearTimeout(invitationTimer);
      invitationTimer = setTimeout(pollInvitation, INVITATION_EVERY_MS);
    }
  }

  function showMessage(text, tone) {
    const message = $('invitation-message');
    message.textContent = text;
    message.className = 'message ' + (tone || '');
  }

  function outcomeText(view) {
    // What the citizen pressed is confidential (DOMAIN.md): the counter sees that they rated, not how.
    if (view.outcome === 'rated') return ['已评价', 'good'];
    if (view.outcome === 'not_rated') return ['未评价（超时）', 'muted'];
    if (view.outcome === 'cancelled') return ['已取消', 'muted'];
    return [view.outcome, 'muted'];
  }

  function clock(iso) {
    const d = new Date(iso);
    return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  }

  function renderInvitation() {
    renderInviteHint();
    $('invitation-empty').hidden = Boolean(current);
    $('invitation-body').hidden = !current;
    if (!current) return;
    const inv = current.view || current.inv;
    const outcome = $('outcome');
    if (current.state === 'closed') {
      const [text, tone] = outcomeText(current.view);
      outcome.textContent = text;
      outcome.className = 'outcome ' + tone;
    } else {
      outcome.textContent = current.state === 'cancelling' ? '正在取消…' : '等待评价…';
      outcome.className = 'outcome waiting';
    }
    const cases = $('invitation-cases');
    clear(cases);
    for (const s of inv.services) {
      const li = el('li');
      li.append(el('span', 'case-no', s.caseNo), el('span', 'item', (s.itemName ? s.itemName + ' ' : '') + s.itemCode));
      cases.append(li);
    }
    const facts = [modeWord(inv.mode), '工号 ' + inv.staffId, '邀请 ' + clock(inv.invitedAt)];
    if (inv.proxy) facts.push('帮办代办');
    if (inv.test) facts.push('测试');
    if (current.state === 'closed') {
      facts.push('结束 ' + clock(inv.closedAt));
      for (const flag of inv.flags || []) if (FLAGS[flag]) facts.push(FLAGS[flag]);
    }
    $('invitation-meta').textContent = facts.join(' · ');
    $('cancel').hidden = current.state === 'closed' || !$('cancel-form').hidden;
    $('cancel').disabled = current.state === 'cancelling';
    if (current.state !== 'open') $('cancel-form').hidden = true;
    $('reprint').hidden = current.state !== 'closed';
    tick();
  }

  function tick() {
    const countdown = $('countdown');
    if (!current || current.state === 'closed') {
      countdown.textContent = '';
      return;
    }
    const deadline = Date.parse(current.inv.invitedAt) + current.inv.timeoutMs;
    const left = Math.ceil((deadline - (Date.now() + clockOffsetMs)) / 1000);
    countdown.textContent = left > 0 ? '剩余 ' + left + ' 秒' : '已到时，等待评价器确认';
    countdown.className = 'countdown' + (left <= 5 ? ' low' : '');
  }
  setInterval(tick, 250);

  /** The cancel reasons, in the bridge's words (GET /api/v1/meta); staff must choose one. */
  function renderCancelReasons() {
    const select = clear($('cancel-reason'));
    const prompt = el('option', '', '请选择取消原因');
    prompt.value = '';
    select.append(prompt);
    for (const code of Object.keys(meta.cancelReasons)) {
      const option = el('option', '', meta.cancelReasons[code]);
      option.value = code;
      select.append(option);
    }
  }

  $('cancel').addEventListener('click', () => {
    if (!current || current.state !== 'open') return;
    $('cancel-reason').value = '';
    $('cancel-form').hidden = false;
    renderInvitation();
    $('cancel-reason').focus();
  });

  $('cancel-back').addEventListener('click', () => {
    $('cancel-form').hidden = true;
    renderInvitation();
  });

  $('cancel-confirm').addEventListener('click', async () => {
    if (!current || current.state !== 'open') return;
    const reason = $('cancel-reason').value;
    if (!reason) {
      showMessage('请选择取消原因', 'bad');
      return;
    }
    const id = current.id;
    current.state = 'cancelling';
    $('cancel-form').hidden = true;
    showMessage('');
    renderInvitation();
    try {
      await api('POST', '/invitations/' + encodeURIComponent(id) + '/cancel', { reason });
    } catch (err) {
      if (!current || current.id !== id) return;
      if (err.code !== 'invitation_closed') {
        current.state = 'open';
        showMessage(describeError(err), 'bad');
        renderInvitation();
      }
    }
    // The terminal confirms the cancel, or reports the press that beat it: the poll shows which.
    clearTimeout(invitationTimer);
    void pollInvitation();
  });

  $('reprint').addEventListener('click', async () => {
    if (!current || current.state !== 'closed') return;
    showMessage('');
    $('reprint').disabled = true;
    try {
      await api('POST', '/invitations/' + encodeURIComponent(current.id) + '/receipt');
      showMessage('回执已送打印（补打）', 'ok');
    } catch (err) {
      showMessage(describeError(err), 'bad');
    } finally {
      $('reprint').disabled = false;
    }
  });

  // ---- today's counts ----

  let statsTimer;
  function percent(rate) {
    if (rate === null || rate === undefined) return '—';
    const p = Math.round(rate * 1000) / 10;
    return (Number.isInteger(p) ? p.toFixed(0) : p.toFixed(1)) + '%';
  }

  function renderStats(s) {
    byTestId('stat-invitations').textContent = s.invitations;
    byTestId('stat-rated').textContent = s.rated;
    byTestId('stat-not-rated').textContent = s.notRated;
    byTestId('stat-cancelled').textContent = s.cancelled;
    byTestId('stat-rate').textContent = percent(s.participationRate);
    $('stats-date').textContent = s.date;
    renderCancelCounts(s.cancelledBy || {});
  }

  /** Today's cancels by the reason staff gave (a cancel counts against the 参评率, so its reason is shown). */
  function renderCancelCounts(byReason) {
    const parts = Object.keys(byReason)
      .filter((code) => byReason[code] > 0)
      .map((code) => ((meta && meta.cancelReasons[code]) || UNSTATED) + ' ' + byReason[code]);
    const line = byTestId('stat-cancel-reasons');
    line.textContent = parts.length ? '取消原因：' + parts.join(' · ') : '';
    line.hidden = parts.length === 0;
  }

  async function refreshStats() {
    clearTimeout(statsTimer);
    try {
      renderStats(await api('GET', '/stats/today'));
    } catch {
      // Shown by the header; the numbers stay as they were.
    } finally {
      clearTimeout(statsTimer);
      statsTimer = setTimeout(refreshStats, STATS_EVERY_MS);
    }
  }

  function refreshAll() {
    void pollStatus();
    void refreshStats();
    if (current && current.state !== 'closed') {
      clearTimeout(invitationTimer);
      void pollInvitation();
    }
  }

  $('test').addEventListener('change', () => {
    $('technician-row').hidden = !$('test').checked;
    if ($('test').checked) $('technician-token').focus();
  });

  addRow();
  renderInvitation();
  refreshAll();
})();
