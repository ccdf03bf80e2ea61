/**
 * Every refusal of the bridge's HTTP API, the desk's and the API's own: its HTTP status and the
 * words window staff read. The API answers `{"error": {"code", …}}` with these codes and the staff
 * console shows these words, taken from the server (`GET /api/v1/meta`), never from a copy.
 */
export const REFUSALS = {
  not_signed_in: { status: 409, zh: '请先签到' },
  /** A wrong PIN and a staff id not on the roster read the same: the refusal does not tell which ids exist. */
  staff_not_verified: { status: 403, zh: '工号或签到密码不正确' },
  sign_in_locked: { status: 429, zh: '签到失败次数过多，请稍后再试' },
  no_staff_roster: { status: 409, zh: '尚未收到省平台下发的工作人员名单，暂不能签到，请联系技术人员' },
  technician_required: { status: 403, zh: '测试邀请须由技术人员凭技术令牌发起' },
  invitation_open: { status: 409, zh: '上一次邀请尚未结束，请等待评价结果' },
  /** Staff paused the window (暂停服务): no invitation until they resume it. */
  window_paused: { status: 409, zh: '本窗口已暂停服务，请先点“恢复服务”再邀请评价' },
  storage_full: { status: 507, zh: '存储已满，暂停新的邀请（已有记录不会丢失）' },
  self_test: { status: 409, zh: '评价器正在自检，请稍后再邀请' },
  terminal_offline: { status: 503, zh: '评价器未连接，暂不能邀请评价' },
  invitation_closed: { status: 409, zh: '该邀请已结束' },
  not_found: { status: 404, zh: '找不到该邀请' },
  no_printer: { status: 409, zh: '本窗口未配置回执打印机' },
  unauthorized: { status: 401, zh: '需要访问令牌' },
  invalid_request: { status: 400, zh: '填写的内容有误' },
  invalid_json: { status: 400, zh: '请求内容不是有效的 JSON' },
  unsupported_media_type: { status: 415, zh: '请求内容须为 JSON' },
  body_too_large: { status: 413, zh: '请求内容过大' },
  host_not_allowed: { status: 421, zh: '请用本机地址打开控制台（该访问地址未获允许）' },
  origin_not_allowed: { status: 403, zh: '已拒绝其他网页发起的操作' },
  method_not_allowed: { status: 405, zh: '不支持该请求方式' },
  internal: { status: 500, zh: '桥接服务内部错误，请联系技术人员' },
} as const satisfies Record<string, { status: number; zh: string }>;

export type Refusal = keyof typeof REFUSALS;
