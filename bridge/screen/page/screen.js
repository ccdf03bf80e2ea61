// The customer screen (顾客评价屏): plain browser JavaScript, no build step, no framework, nothing
// from the internet. It shows what the bridge pushes (GET /api/events, server-sent events) and
// sends the citizen's touches (POST /api/press, /api/reason). It never shows a grade after the
// press: the counter sees this screen too.
(function () {
  'use strict';

  const byTestId = (id) => document.querySelector('[data-testid="' + id + '"]');
  /** The words: the bridge's own lists (GET /api/meta). */
  let meta = null;
  /** The view last pushed; touches refer to its invitation. */
  let view = null;
  /** A touch is on its way: no second one until the bridge answers (one service, one rating). */
  let busy = false;
  let noticeTimer = null;

  function show(id, visible) {
    byTestId(id).hidden = !visible;
  }

  function clear(node) {
    node.textContent = '';
    return node;
  }

  function notice(text) {
    const node = byTestId('notice');
    node.textContent = text;
    node.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => { node.hidden = true; }, 4000);
  }

  async function call(path, body) {
    const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const answer = await res.json().catch(() => ({}));
    if (!res.ok) {
      const code = answer.error && answer.error.code;
      const error = new Error((meta && meta.refusals[code]) || '操作未成功，请稍后再试');
      error.code = code;
      throw error;
    }
    return answer;
  }

  async function touch(path, body) {
    if (busy) return;
    busy = true;
    render();
    try {
      await call(path, body);
    } catch (err) {
      notice(err.message);
      if (err.code === 'unauthorized') start();
    } finally {
      busy = false;
      render();
    }
  }

  function renderStaff(staff) {
    document.body.classList.toggle('no-staff', !staff);
    show('staff-card', Boolean(staff));
    byTestId('idle-staff').textContent = staff ? '工作人员 ' + (staff.name || staff.staffId) + ' 为您服务' : '本窗口暂无工作人员';
    if (!staff) return;
    byTestId('staff-name').textContent = staff.name || '';
    byTestId('staff-title').textContent = staff.title || '';
    byTestId('staff-id').textContent = staff.staffId;
    const photo = byTestId('staff-photo');
    if (staff.photo) {
      if (photo.getAttribute('src') !== staff.photo) photo.src = staff.photo;
    } else {
      photo.removeAttribute('src');
    }
    show('staff-photo', Boolean(staff.photo));
    show('staff-no-photo', !staff.photo);
    byTestId('staff-no-photo').textContent = (staff.name || staff.staffId).slice(0, 1);
    const stars = byTestId('staff-stars');
    show('staff-stars', staff.stars !== null);
    if (staff.stars !== null) {
      clear(stars);
      for (let i = 1; i <= 5; i += 1) {
        const star = document.createElement('span');
        star.textContent = '★';
        star.className = staff.stars >= i ? 'on' : staff.stars >= i - 0.5 ? 'half' : 'off';
        stars.append(star);
      }
      stars.setAttribute('aria-label', '星级 ' + staff.stars);
      stars.dataset.stars = String(staff.stars);
    }
  }

  function renderInvited(phase) {
    byTestId('invite-prompt').textContent = meta.prompts.invite;
    const notes = [phase.mode === 'single' ? null : meta.modes[phase.mode], phase.proxy ? '帮办代办' : null].filter(Boolean);
    byTestId('items').textContent = phase.items.join('、') + (notes.length ? '（' + notes.join('，') + '）' : '');
    const grades = clear(byTestId('grades'));
    for (const { grade, zh, class: kind } of meta.grades) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = kind;
      // Two lines at a word's seam (非常 | 不满意), never a character left alone on a line.
      button.textContent = zh.length > 3 ? zh.slice(0, 2) + '\n' + zh.slice(2) : zh;
      button.dataset.testid = 'grade-' + grade;
      button.disabled = busy;
      button.addEventListener('click', () => touch('/api/press', { invitationId: phase.invitationId, grade }));
      grades.append(button);
    }
  }

  function renderReasons(phase) {
    byTestId('reasons-prompt').textContent = meta.prompts.reasons;
    const onTerminal = phase.via === 'terminal';
    byTestId('reasons-hint').textContent = onTerminal ? '请按评价器上对应编号的按键' : '请点击一项原因';
    const list = clear(byTestId('reason-list'));
    for (const { button, label } of phase.reasons) {
      const item = document.createElement('li');
      const key = document.createElement('span');
      key.className = 'key';
      key.textContent = String(button + 1);
      const text = document.createElement('span');
      text.textContent = label;
      // On the terminal's buttons the screen only labels them; here the citizen touches the reason.
      const target = document.createElement(onTerminal ? 'div' : 'button');
      target.className = onTerminal ? 'label' : '';
      target.dataset.testid = 'reason-' + button;
      target.append(key, text);
      if (!onTerminal) {
        target.type = 'button';
        target.disabled = busy;
        target.addEventListener('click', () => touch('/api/reason', { invitationId: phase.invitationId, button }));
      }
      item.append(target);
      list.append(item);
    }
    const skip = byTestId('reason-skip');
    skip.hidden = onTerminal;
    skip.disabled = busy;
    skip.onclick = () => touch('/api/reason', { invitationId: phase.invitationId, button: null });
  }

  function renderClosed(phase) {
    const words = { rated: meta.prompts.thanks, not_rated: meta.prompts.timeout, cancelled: '本次评价已取消' };
    byTestId('closed-text').textContent = words[phase.outcome];
    show('qr', phase.qr !== null);
    if (phase.qr !== null) byTestId('qr-image').src = phase.qr;
  }

  function render() {
    if (!view || !meta) return;
    byTestId('hall').textContent = view.hallName;
    byTestId('window').textContent = view.windowNo + ' 号窗口';
    renderStaff(view.staff);
    const phase = view.phase;
    for (const kind of ['idle', 'invited', 'reasons', 'closed', 'pairing']) show(kind, phase.kind === kind);
    if (phase.kind === 'invited') renderInvited(phase);
    if (phase.kind === 'reasons') renderReasons(phase);
    if (phase.kind === 'closed') renderClosed(phase);
    // Paused: nobody is invited meanwhile (the desk refuses), so the overlay hides nothing to touch.
    show('paused', view.paused && phase.kind !== 'invited' && phase.kind !== 'reasons');
    byTestId('paused-text').textContent = meta.prompts.paused;
    const banner = byTestId('banner');
    banner.textContent = view.banner || '';
    banner.hidden = !view.banner;
  }

  function showPairing() {
    view = null;
    for (const kind of ['idle', 'invited', 'reasons', 'closed']) show(kind, false);
    show('pairing', true);
    show('staff-card', false);
    document.body.classList.add('no-staff');
    byTestId('hall').textContent = '服务评价';
  }

  /** A GET's JSON; a refusal (the bridge restarting, a name it does not answer to) is retried by start(). */
  async function json(path) {
    const res = await fetch(path);
    if (!res.ok) throw new Error(path + ': ' + res.status);
    return res.json();
  }

  let events = null;
  function follow() {
    if (events) events.close();
    events = new EventSource('/api/events');
    events.addEventListener('view', (message) => {
      view = JSON.parse(message.data);
      render();
    });
    // EventSource reconnects by itself; a tablet unpaired meanwhile is asked to pair again.
    events.onerror = () => {
      if (events.readyState === EventSource.CLOSED) setTimeout(start, 2000);
    };
  }

  async function start() {
    try {
      if (!meta) meta = await json('/api/meta');
      const session = await json('/api/session');
      if (!session.allowed) {
        if (events) events.close();
        showPairing();
        return;
      }
      follow();
    } catch {
      byTestId('hall').textContent = '正在连接…';
      setTimeout(start, 2000);
    }
  }

  document.getElementById('pair-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const error = byTestId('pair-error');
    error.textContent = '';
    try {
      await call('/api/pair', { code: byTestId('pair-code').value.trim() });
      show('pairing', false);
      start();
    } catch (err) {
      error.textContent = err.code === 'unauthorized' ? '配对码不正确或已过期' : err.message;
    }
  });

  start();
})();
