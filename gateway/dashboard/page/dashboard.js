/* global document, window, fetch, EventSource, URL, URLSearchParams, setTimeout, echarts */
// The managers' dashboard (好差评 · 管理看板): plain browser JavaScript, no build step, no
// framework, nothing from the internet. Every call goes to this gateway's own API (relative
// paths, so it works behind a reverse proxy's prefix); the session is an HttpOnly cookie this
// script never sees. Live: /api/events says *that* something changed, the page asks again.

const $ = (id) => document.getElementById(id);
const byTestId = (id) => document.querySelector('[data-testid="' + id + '"]');

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

class ApiError extends Error {
  constructor(status, code, message, problems) {
    super(message);
    this.status = status;
    this.code = code;
    this.problems = problems || [];
  }
}

/** The API: JSON in and out; a POST always carries JSON (the server's CSRF rule). */
async function api(method, path, body) {
  const init = { method, headers: {}, cache: 'no-store', credentials: 'same-origin' };
  if (method !== 'GET') {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body === undefined ? {} : body);
  }
  let res;
  try {
    res = await fetch('api/' + path, init);
  } catch {
    throw new ApiError(0, 'network', '无法连接网关，请检查网络');
  }
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const error = (data && data.error) || {};
    const failure = new ApiError(res.status, error.code || 'error', error.message || 'HTTP ' + res.status, error.problems);
    if (res.status === 401 && path !== 'login') signedOut('登录已过期，请重新登录');
    throw failure;
  }
  return data;
}

// ---- session ----

let me = null;
let events = null;

function showBanner(text) {
  const banner = $('banner');
  banner.textContent = text || '';
  banner.hidden = !text;
}

function signedOut(reason) {
  me = null;
  if (events) events.close();
  events = null;
  $('app').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = reason || '';
  $('login-password').value = '';
  $('login-username').focus();
}

async function boot() {
  try {
    me = await api('GET', 'me');
  } catch (err) {
    if (err.status !== 401) signedOut(err.message);
    return;
  }
  $('login').hidden = true;
  $('app').hidden = false;
  $('user-name').textContent = me.user.displayName || me.user.username;
  $('user-scope').textContent = me.user.scopeText;
  setDefaultDates();
  listen();
  showView(currentView());
  refreshBadge();
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('login-error').textContent = '';
  const button = byTestId('login-submit');
  button.disabled = true;
  try {
    await api('POST', 'login', { username: $('login-username').value.trim(), password: $('login-password').value });
    $('login-password').value = '';
    await boot();
  } catch (err) {
    $('login-error').textContent = err.message;
  } finally {
    button.disabled = false;
  }
});

$('logout').addEventListener('click', async () => {
  await api('POST', 'logout').catch(() => undefined);
  signedOut('已退出');
});

// ---- words and formats ----

const gradeWords = () => Object.fromEntries(me.words.grades.map((g) => [g.code, g.zh]));
const flagWord = (code) => me.words.misuseFlags[code] || code;

function percent(value) {
  return value === null || value === undefined ? '—' : (value * 100).toFixed(1) + '%';
}

/** A date and time as the hall reads it (its own time zone, not the browser's). */
function when(iso) {
  if (!iso) return '—';
  const f = new Intl.DateTimeFormat('zh-CN', { timeZone: me.timeZone, month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  return f.format(new Date(iso));
}

/** YYYY-MM-DD of an instant in the hall's time zone. */
function hallDay(date) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: me.timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(date);
}

function ago(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return s + ' 秒';
  if (s < 3600) return Math.floor(s / 60) + ' 分钟';
  if (s < 86400) return Math.floor(s / 3600) + ' 小时';
  return Math.floor(s / 86400) + ' 天';
}

// ---- views ----

const VIEWS = ['overview', 'live', 'alerts', 'misuse', 'exports'];
const loaders = {};
/** Views whose data changed while another was shown: loaded again when shown. */
const stale = new Set();

function currentView() {
  const name = window.location.hash.slice(1);
  return VIEWS.includes(name) ? name : 'overview';
}

function showView(name) {
  for (const section of document.querySelectorAll('[data-view]')) section.hidden = section.dataset.view !== name;
  for (const tab of document.querySelectorAll('[data-tab]')) tab.classList.toggle('on', tab.dataset.tab === name);
  stale.delete(name);
  load(name);
}

window.addEventListener('hashchange', () => {
  if (me) showView(currentView());
});

async function load(name) {
  const loader = loaders[name];
  if (!loader) return;
  try {
    await loader();
    showBanner('');
  } catch (err) {
    if (err.status !== 401) showBanner(err.message + (err.problems.length ? '（' + err.problems.join('；') + '）' : ''));
  }
}

/** Something changed: the view shown is loaded again, the others when next shown. */
function changed(names) {
  const shown = currentView();
  for (const name of names) {
    if (name === shown) load(name);
    else stale.add(name);
  }
}

// ---- live updates ----

let pending = { records: false, alerts: false, terminals: false };
let pendingTimer = null;

function listen() {
  if (events) events.close();
  events = new EventSource('api/events');
  const state = $('live-state');
  events.addEventListener('open', () => {
    state.textContent = '实时';
    state.className = 'live-state on';
  });
  events.addEventListener('error', () => {
    state.textContent = '重新连接中';
    state.className = 'live-state off';
  });
  events.addEventListener('signed-out', () => signedOut('登录已失效，请重新登录'));
  events.addEventListener('changed', (e) => {
    let what;
    try {
      what = JSON.parse(e.data);
    } catch {
      return;
    }
    pending = { records: pending.records || what.records, alerts: pending.alerts || what.alerts, terminals: pending.terminals || what.terminals };
    // Changes come in bursts (a batch of records): one refetch for the lot.
    if (pendingTimer === null) pendingTimer = setTimeout(flush, 250);
  });
}

function flush() {
  pendingTimer = null;
  const what = pending;
  pending = { records: false, alerts: false, terminals: false };
  const names = [];
  if (what.records) names.push('overview', 'misuse');
  if (what.alerts) names.push('alerts');
  if (what.terminals) names.push('live');
  changed(names);
  if (what.alerts) refreshBadge();
}

async function refreshBadge() {
  try {
    const data = await api('GET', 'alerts?state=unacknowledged&limit=1');
    const badge = $('alert-badge');
    badge.textContent = String(data.total);
    badge.hidden = data.total === 0;
  } catch {
    // the alerts view says why, when opened
  }
}

// ---- overview ----

const overview = { range: 'today', by: 'window', flagged: false };
const charts = {};

function chart(id) {
  if (typeof echarts === 'undefined') return null;
  if (!charts[id]) charts[id] = echarts.init($(id), null, { renderer: 'canvas' });
  return charts[id];
}

window.addEventListener('resize', () => {
  for (const c of Object.values(charts)) c.resize();
});

function setDefaultDates() {
  const today = hallDay(new Date());
  if (!$('from').value) $('from').value = today;
  if (!$('to').value) $('to').value = today;
  if (!$('misuse-from').value) $('misuse-from').value = today.slice(0, 8) + '01';
  if (!$('misuse-to').value) $('misuse-to').value = today;
  if (!$('export-month').value) $('export-month').value = today.slice(0, 7);
  updateExportLink();
}

function overviewPeriod() {
  const today = hallDay(new Date());
  if (overview.range === 'today') return { from: today, to: today };
  if (overview.range === 'month') return { from: today.slice(0, 8) + '01', to: today };
  return { from: $('from').value, to: $('to').value };
}

for (const button of document.querySelectorAll('[data-range]')) {
  button.addEventListener('click', () => {
    overview.range = button.dataset.range;
    for (const b of document.querySelectorAll('[data-range]')) b.classList.toggle('on', b === button);
    const period = overviewPeriod();
    $('from').value = period.from;
    $('to').value = period.to;
    load('overview');
  });
}
for (const id of ['from', 'to']) {
  $(id).addEventListener('change', () => {
    overview.range = 'custom';
    for (const b of document.querySelectorAll('[data-range]')) b.classList.toggle('on', b.dataset.range === 'custom');
    load('overview');
  });
}
$('group-by').addEventListener('change', () => {
  overview.by = $('group-by').value;
  load('overview');
});
$('include-flagged').addEventListener('change', () => {
  overview.flagged = $('include-flagged').checked;
  load('overview');
});

function statsQuery(by) {
  const period = overviewPeriod();
  const q = new URLSearchParams({ from: period.from, to: period.to, by });
  if (overview.flagged) q.set('flagged', 'true');
  return 'stats?' + q.toString();
}

const GROUP_TITLES = { hall: '按大厅', window: '按窗口', staff: '按工作人员', item: '按事项' };

loaders.overview = async () => {
  const by = overview.by;
  const [total, days, groups] = await Promise.all([api('GET', statsQuery('total')), api('GET', statsQuery('day')), api('GET', statsQuery(by))]);
  const period = overviewPeriod();
  $('period-text').textContent = (period.from === period.to ? period.from : period.from + ' 至 ' + period.to) + (overview.flagged ? '，含疑似异常评价' : '，不含疑似异常评价');
  const t = total.rows[0] || { invitations: 0, rated: 0, notRated: 0, cancelled: 0, participation: null, goodRate: null, bad: 0, flagged: 0, grades: {} };
  byTestId('kpi-invitations').textContent = t.invitations;
  byTestId('kpi-rated').textContent = t.rated;
  byTestId('kpi-participation').textContent = percent(t.participation);
  byTestId('kpi-good-rate').textContent = percent(t.goodRate);
  byTestId('kpi-bad').textContent = t.bad;
  byTestId('kpi-not-rated').textContent = t.notRated + ' / ' + t.cancelled;
  byTestId('kpi-flagged').textContent = t.flagged;
  drawGrades(t);
  drawTrend(days.rows);
  drawGroups(groups.rows, by);
};

function drawGrades(t) {
  const c = chart('chart-grades');
  if (!c) return;
  const words = gradeWords();
  const colors = { very_satisfied: '#178a4a', satisfied: '#5cb85c', basically_satisfied: '#e0a800', dissatisfied: '#e8684a', very_dissatisfied: '#c62828' };
  c.setOption(
    {
      tooltip: { trigger: 'item', formatter: '{b}：{c}（{d}%）' },
      legend: { bottom: 0 },
      series: [
        {
          type: 'pie',
          radius: ['38%', '66%'],
          center: ['50%', '44%'],
          label: { formatter: '{b}\n{c}' },
          data: me.words.grades.map((g) => ({ name: words[g.code], value: (t.grades && t.grades[g.code]) || 0, itemStyle: { color: colors[g.code] } })),
        },
      ],
    },
    true,
  );
}

function drawTrend(rows) {
  const c = chart('chart-trend');
  if (!c) return;
  c.setOption(
    {
      tooltip: { trigger: 'axis' },
      legend: { data: ['邀请', '已评价', '差评', '参评率', '好评率'], bottom: 0 },
      grid: { left: 48, right: 56, top: 20, bottom: 48 },
      xAxis: { type: 'category', data: rows.map((r) => r.label || r.key) },
      yAxis: [
        { type: 'value', name: '次', minInterval: 1 },
        { type: 'value', name: '%', min: 0, max: 100, axisLabel: { formatter: '{value}%' } },
      ],
      series: [
        { name: '邀请', type: 'bar', data: rows.map((r) => r.invitations), itemStyle: { color: '#9ab8dc' } },
        { name: '已评价', type: 'bar', data: rows.map((r) => r.rated), itemStyle: { color: '#1f5fa8' } },
        { name: '差评', type: 'bar', data: rows.map((r) => r.bad), itemStyle: { color: '#c62828' } },
        { name: '参评率', type: 'line', yAxisIndex: 1, data: rows.map((r) => (r.participation === null ? null : +(r.participation * 100).toFixed(1))) },
        { name: '好评率', type: 'line', yAxisIndex: 1, data: rows.map((r) => (r.goodRate === null ? null : +(r.goodRate * 100).toFixed(1))), itemStyle: { color: '#178a4a' } },
      ],
    },
    true,
  );
}

function drawGroups(rows, by) {
  $('groups-title').textContent = GROUP_TITLES[by] || '';
  const body = $('groups-body');
  body.textContent = '';
  if (rows.length === 0) {
    const tr = el('tr', 'empty');
    const td = el('td', '', '所选时间内没有数据');
    td.colSpan = 13;
    tr.append(td);
    body.append(tr);
  }
  for (const r of rows) {
    const tr = el('tr');
    tr.dataset.testid = 'group-' + r.key;
    const cells = [r.label || r.key, r.invitations, r.rated, r.notRated, r.cancelled, percent(r.participation), percent(r.goodRate)];
    for (const g of me.words.grades) cells.push((r.grades && r.grades[g.code]) || 0);
    cells.push(r.flagged);
    for (const value of cells) tr.append(el('td', '', value));
    body.append(tr);
  }
  const c = chart('chart-groups');
  if (!c) return;
  const top = rows.slice(0, 30);
  c.setOption(
    {
      tooltip: { trigger: 'axis' },
      legend: { data: ['已评价', '好评率'], bottom: 0 },
      grid: { left: 48, right: 56, top: 20, bottom: 56 },
      xAxis: { type: 'category', data: top.map((r) => r.label || r.key), axisLabel: { interval: 0, rotate: top.length > 8 ? 30 : 0 } },
      yAxis: [
        { type: 'value', name: '次', minInterval: 1 },
        { type: 'value', name: '%', min: 0, max: 100 },
      ],
      series: [
        { name: '已评价', type: 'bar', data: top.map((r) => r.rated), itemStyle: { color: '#1f5fa8' } },
        { name: '好评率', type: 'line', yAxisIndex: 1, data: top.map((r) => (r.goodRate === null ? null : +(r.goodRate * 100).toFixed(1))), itemStyle: { color: '#178a4a' } },
      ],
    },
    true,
  );
}

// ---- live windows ----

loaders.live = async () => {
  const data = await api('GET', 'windows');
  const list = $('windows');
  list.textContent = '';
  const online = data.windows.filter((w) => w.online).length;
  $('live-summary').textContent = '共 ' + data.windows.length + ' 个窗口，在线 ' + online + ' 个，离线 ' + (data.windows.length - online) + ' 个';
  if (data.windows.length === 0) list.append(el('p', 'muted', '权限范围内没有已登记的评价器'));
  for (const w of data.windows) list.append(windowCard(w));
};

function windowCard(w) {
  const alarms = Array.isArray(w.alarms) ? w.alarms : [];
  const card = el('article', 'window' + (w.online ? '' : ' offline') + (alarms.length > 0 ? ' alarm' : ''));
  card.dataset.testid = 'window-' + w.hallCode + '-' + w.windowNo;
  const title = el('h3');
  title.append(el('span', '', '窗口 ' + w.windowNo), el('span', 'state ' + (w.online ? 'online' : 'offline'), w.online ? (w.stale ? '在线（状态未更新）' : '在线') : '离线'));
  title.lastChild.dataset.testid = 'online';
  card.append(title);
  card.append(el('p', 'muted', w.hallCode + ' · ' + w.terminalId));
  const staff = el('p', '', '工作人员：' + (w.staffId || '未签到'));
  staff.dataset.testid = 'staff';
  card.append(staff);
  if (w.paused) {
    const paused = el('p', 'paused', '暂停服务');
    paused.dataset.testid = 'paused';
    card.append(paused);
  }
  const inv = w.invitation;
  const invitation = el('p', inv ? 'invitation' : 'muted', inv ? '正在邀请评价：' + (inv.items || []).map((i) => i.itemName || i.itemCode).join('、') + (inv.cases > 1 ? '（' + inv.cases + ' 件）' : '') + (inv.invitedAt ? '，' + when(inv.invitedAt) + ' 起' : '') : '无进行中的邀请');
  invitation.dataset.testid = 'invitation';
  card.append(invitation);
  const backlog = w.backlog || {};
  const waiting = el('p', '', '待上报：' + (backlog.pending === null || backlog.pending === undefined ? '—' : backlog.pending) + (backlog.oldestPendingAgeMs ? '（最早 ' + ago(backlog.oldestPendingAgeMs) + ' 前）' : ''));
  waiting.dataset.testid = 'backlog';
  card.append(waiting);
  const health = [];
  if (w.printer) health.push('打印机：' + w.printer.zh);
  if (w.clockSynced === false) health.push('时钟未校准');
  if (health.length) card.append(el('p', '', health.join(' · ')));
  card.append(el('p', 'muted', '最后联系：' + when(w.lastSeen)));
  if (alarms.length > 0) {
    const ul = el('ul', 'alarms');
    ul.dataset.testid = 'alarms';
    for (const a of alarms) ul.append(el('li', '', typeof a === 'string' ? me.words.alarms[a] || a : a.zh || a.code));
    card.append(ul);
  }
  return card;
}

// ---- alerts ----

const alertsState = { state: 'unacknowledged' };
const FOLLOW_UP_CHOICES = [
  ['called_back', '已回访'],
  ['appealed', '已申诉'],
  ['rectifying', '整改中'],
  ['rectified', '已整改'],
  ['closed', '已办结'],
];

for (const button of document.querySelectorAll('[data-state]')) {
  button.addEventListener('click', () => {
    alertsState.state = button.dataset.state;
    for (const b of document.querySelectorAll('[data-state]')) b.classList.toggle('on', b === button);
    load('alerts');
  });
}

/** The alert a message's link names (`?alert=<id>#alerts`): shown and marked once, found under 全部 if need be. */
let focusAlert = new URLSearchParams(window.location.search).get('alert');

function showFocusAlert() {
  if (!focusAlert) return;
  const card = byTestId('alert-' + focusAlert);
  if (!card && alertsState.state !== 'all') {
    byTestId('alerts-all').click();
    return;
  }
  focusAlert = null;
  if (!card) {
    showBanner('链接中的告警不存在，或不在您的权限范围内');
    return;
  }
  card.classList.add('focus');
  card.scrollIntoView({ block: 'center' });
}

loaders.alerts = async () => {
  const data = await api('GET', 'alerts?' + new URLSearchParams({ state: alertsState.state, limit: '100' }).toString());
  const list = $('alerts');
  list.textContent = '';
  $('alerts-summary').textContent = '共 ' + data.total + ' 条' + (data.total > data.alerts.length ? '，显示最新 ' + data.alerts.length + ' 条' : '');
  if (data.alerts.length === 0) list.append(el('p', 'muted', alertsState.state === 'unacknowledged' ? '没有未确认的告警' : '没有告警'));
  for (const a of data.alerts) list.append(alertCard(a));
  showFocusAlert();
};

function alertCard(a) {
  const card = el('article', 'alert' + (a.clearedAt ? ' cleared' : a.acknowledgedAt ? ' acknowledged' : ''));
  card.dataset.testid = 'alert-' + a.id;
  const main = el('div');
  const detail = a.detail || {};
  const headline = a.kind === 'bad_review' ? a.kindZh + '：' + (detail.gradeZh || '') : a.kindZh;
  const h = el('h3', '', headline);
  h.dataset.testid = 'alert-title';
  main.append(h);
  const place = a.hallCode + (a.windowNo ? ' 窗口 ' + a.windowNo : '') + ' · 发生于 ' + when(a.occurredAt);
  main.append(el('div', 'meta', place));
  const facts = [];
  if (detail.channelZh) facts.push('来源：' + detail.channelZh);
  if (detail.reasons && detail.reasons.length) facts.push('原因：' + detail.reasons.map((r) => me.words.reasons[r] || r).join('、'));
  const misuseFlags = (detail.flags || []).filter((f) => me.words.misuseFlags[f]);
  if (misuseFlags.length) facts.push('疑似异常：' + misuseFlags.map(flagWord).join('、'));
  if (detail.pending !== null && detail.pending !== undefined) facts.push('待上报 ' + detail.pending + ' 条');
  if (a.notifyCount) facts.push('已推送 ' + a.notifyCount + ' 次');
  if (a.notifyError) facts.push('推送失败：' + a.notifyError);
  if (facts.length) main.append(el('div', 'meta', facts.join(' · ')));
  card.append(main);

  const actions = el('div', 'actions');
  const status = el('span', 'meta', a.clearedAt ? '已结束 ' + when(a.clearedAt) : a.acknowledgedAt ? '已确认（' + (a.acknowledgedBy || '') + ' ' + when(a.acknowledgedAt) + '）' : '未确认');
  status.dataset.testid = 'alert-status';
  actions.append(status);
  if (!a.acknowledgedAt && !a.clearedAt) {
    const ack = alertButton('确认', 'primary', 'ack', () => api('POST', 'alerts/' + encodeURIComponent(a.id) + '/ack'));
    actions.append(ack);
  }
  card.append(actions);

  if (a.clocks) card.append(clocksRow(a));
  if (a.kind === 'bad_review') card.append(followUpRow(a));
  return card;
}

/** A button that changes an alert: disabled while the call runs, then the list and the badge again (or the refusal shown). */
function alertButton(text, className, testid, call) {
  const button = el('button', className, text);
  button.type = 'button';
  button.dataset.testid = testid;
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await call();
      await load('alerts');
      refreshBadge();
    } catch (err) {
      showBanner(err.message);
      button.disabled = false;
    }
  });
  return button;
}

/** The clocks a follow-up status has stopped: a called-back review's call-back is done, and so on. */
const DONE_BY = {
  called_back: ['callback'],
  appealed: ['callback', 'appeal'],
  rectifying: ['callback'],
  rectified: ['callback', 'rectify'],
  closed: ['callback', 'appeal', 'rectify'],
};

function clocksRow(a) {
  const row = el('div', 'clocks');
  row.dataset.testid = 'clocks';
  row.append(el('span', 'meta', '跟进：' + (a.followUpZh || '待回访')));
  const names = [
    ['callback', '回访'],
    ['appeal', '申诉'],
    ['rectify', '整改'],
  ];
  for (const [key, word] of names) {
    const c = a.clocks[key];
    if (!c) continue;
    const done = (DONE_BY[a.followUp] || []).includes(key);
    const text = done ? word + '已完成' : c.overdue ? word + '已逾期（截止 ' + c.dueDay + '）' : word + '截止 ' + c.dueDay + '（剩 ' + c.workingDaysLeft + ' 个工作日）';
    const span = el('span', 'clock' + (done ? ' done' : c.overdue ? ' overdue' : c.workingDaysLeft <= 1 ? ' soon' : ''), text);
    span.dataset.testid = 'clock-' + key;
    row.append(span);
  }
  return row;
}

/**
 * The alerts whose follow-up history is open, with its events as last fetched (null until then):
 * kept open when a live update draws the list again, and drawn at once from what was fetched,
 * then refreshed (live updates can come faster than a busy gateway answers).
 */
const openHistories = new Map();

function historyList(events) {
  const ul = el('ul', 'history');
  if (events.length === 0) ul.append(el('li', '', '暂无记录'));
  for (const ev of events) ul.append(el('li', '', when(ev.at) + ' ' + ev.statusZh + '（' + ev.actor + '）' + (ev.note ? '：' + ev.note : '')));
  return ul;
}

function followUpRow(a) {
  const wrap = el('div', 'follow-up');
  if (a.followUp === 'closed') {
    wrap.append(el('span', 'meta', '已办结'));
  } else {
    const select = el('select');
    select.dataset.testid = 'follow-up-status';
    for (const [code, word] of FOLLOW_UP_CHOICES) {
      const option = el('option', '', word);
      option.value = code;
      select.append(option);
    }
    const note = el('input');
    note.placeholder = '处理说明（可选，不含评价人个人信息）';
    note.maxLength = 500;
    note.dataset.testid = 'follow-up-note';
    const save = alertButton('记录跟进', '', 'follow-up-save', () => api('POST', 'alerts/' + encodeURIComponent(a.id) + '/follow-up', { status: select.value, note: note.value }));
    wrap.append(select, note, save);
  }
  const show = el('button', '', '处理记录');
  show.type = 'button';
  show.dataset.testid = 'follow-up-history';
  // Shows these events under this card's follow-up row, in place of what it showed (if the card is still drawn).
  const draw = (events) => {
    if (!wrap.isConnected || !openHistories.has(a.id)) return;
    const ul = historyList(events);
    const existing = wrap.parentNode.querySelector('.history');
    if (existing) existing.replaceWith(ul);
    else wrap.after(ul);
  };
  const history = async () => {
    try {
      const data = await api('GET', 'alerts/' + encodeURIComponent(a.id) + '/follow-up');
      if (!openHistories.has(a.id)) return; // closed meanwhile
      openHistories.set(a.id, data.events);
      // The card may have been drawn again meanwhile (a live update): the one drawn now gets it.
      draw(data.events);
    } catch (err) {
      showBanner(err.message);
    }
  };
  show.addEventListener('click', () => {
    const existing = wrap.parentNode.querySelector('.history');
    if (existing) {
      existing.remove();
      openHistories.delete(a.id);
      return;
    }
    openHistories.set(a.id, null);
    void history();
  });
  wrap.append(show);
  // A history left open stays open when the list is drawn again by a live update: drawn from what
  // was fetched once the card is in the page (after this turn's drawing), then fetched again.
  if (openHistories.has(a.id)) {
    const fetched = openHistories.get(a.id);
    if (fetched) void Promise.resolve().then(() => draw(fetched));
    void history();
  }
  return wrap;
}

// ---- misuse ----

const misuse = { offset: 0, limit: 50, total: 0 };

for (const id of ['misuse-from', 'misuse-to']) {
  $(id).addEventListener('change', () => {
    misuse.offset = 0;
    load('misuse');
  });
}
$('misuse-prev').addEventListener('click', () => {
  misuse.offset = Math.max(0, misuse.offset - misuse.limit);
  load('misuse');
});
$('misuse-next').addEventListener('click', () => {
  if (misuse.offset + misuse.limit < misuse.total) misuse.offset += misuse.limit;
  load('misuse');
});

const OUTCOMES = { rated: '已评价', not_rated: '未评价', cancelled: '已取消' };
const SOURCES = { record: '窗口评价器', later: '扫码评价' };

loaders.misuse = async () => {
  const q = new URLSearchParams({ from: $('misuse-from').value, to: $('misuse-to').value, limit: String(misuse.limit), offset: String(misuse.offset) });
  const data = await api('GET', 'misuse?' + q.toString());
  misuse.total = data.total;
  const words = gradeWords();
  const body = $('misuse-body');
  body.textContent = '';
  if (data.rows.length === 0) {
    const tr = el('tr', 'empty');
    const td = el('td', '', '所选时间内没有疑似异常评价');
    td.colSpan = 8;
    tr.append(td);
    body.append(tr);
  }
  for (const r of data.rows) {
    const tr = el('tr');
    tr.dataset.testid = 'flagged-' + r.id;
    for (const value of [when(r.at), r.hallCode, r.windowNo, r.staffId || '—', OUTCOMES[r.outcome] || r.outcome, r.grade ? words[r.grade] : '—', SOURCES[r.source] || r.source]) tr.append(el('td', 'left', value));
    const flags = el('td', 'left');
    const box = el('span', 'flags');
    for (const f of r.flags) box.append(el('span', 'flag', flagWord(f)));
    flags.append(box);
    tr.append(flags);
    body.append(tr);
  }
  const pages = Math.max(1, Math.ceil(data.total / misuse.limit));
  $('misuse-page').textContent = '第 ' + (Math.floor(misuse.offset / misuse.limit) + 1) + ' / ' + pages + ' 页，共 ' + data.total + ' 条';
};

// ---- exports ----

function exportQuery() {
  const q = new URLSearchParams({ month: $('export-month').value, what: $('export-what').value, format: $('export-format').value });
  if ($('export-flagged').checked) q.set('flagged', 'true');
  return 'exports?' + q.toString();
}

function updateExportLink() {
  $('export-link').href = 'api/' + exportQuery();
}
for (const id of ['export-month', 'export-what', 'export-format', 'export-flagged']) $(id).addEventListener('change', updateExportLink);
$('export-form').addEventListener('submit', (e) => e.preventDefault());

/** The file named as the server names it (RFC 6266 filename*, else filename). */
function filenameOf(disposition) {
  const utf8 = /filename\*=UTF-8''([^;]+)/i.exec(disposition || '');
  if (utf8) return decodeURIComponent(utf8[1]);
  const plain = /filename="([^"]+)"/i.exec(disposition || '');
  return plain ? plain[1] : 'export';
}

// Fetched rather than followed: a refusal is shown on the page, not saved as a file.
$('export-link').addEventListener('click', async (e) => {
  e.preventDefault();
  const link = $('export-link');
  link.classList.add('busy');
  try {
    const res = await fetch('api/' + exportQuery(), { cache: 'no-store', credentials: 'same-origin' });
    if (!res.ok) {
      const data = await res.json().catch(() => null);
      const error = (data && data.error) || {};
      if (res.status === 401) signedOut('登录已过期，请重新登录');
      throw new ApiError(res.status, error.code || 'error', error.message || 'HTTP ' + res.status, error.problems);
    }
    const blob = await res.blob();
    const a = el('a');
    a.href = URL.createObjectURL(blob);
    a.download = filenameOf(res.headers.get('content-disposition'));
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    $('export-message').textContent = '已下载 ' + a.download;
    showBanner('');
  } catch (err) {
    $('export-message').textContent = '';
    showBanner(err.message);
  } finally {
    link.classList.remove('busy');
  }
});

boot();
