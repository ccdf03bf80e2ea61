/**
 * The bridge's alarms: one list, with the words window staff read. The status, telemetry and the
 * staff console all take them from here (the console from the server), never from a copy.
 */
export const ALARMS = {
  terminal_offline: '评价器未连接',
  terminal_replaced: '评价器被更换或未经配对，暂停评价，请技术人员重新配对',
  broker_offline: '网络中断',
  clock_unsynced: '时钟未校准',
  storage_full: '存储已满，暂停邀请',
  storage_error: '存储写入失败，暂停邀请',
  records_quarantined: '有记录被省平台拒收',
  printer_offline: '打印机离线',
  printer_paper_out: '打印机缺纸',
  printer_paper_low: '打印机纸将用完',
  printer_cover_open: '打印机纸仓盖未关',
  sound_device: '语音播放设备故障',
} as const;

export type Alarm = keyof typeof ALARMS;
export const ALARM_CODES = Object.keys(ALARMS) as Alarm[];
