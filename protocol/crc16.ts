/**
 * CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor).
 * Hand-written because the npm `crc` packages depend on Node's Buffer, and this code must also
 * run on an Espruino MCU. Check value: crc16("123456789") === 0x29b1.
 */
export function crc16(text: string): number {
  let crc = 0xffff;
  for (let i = 0; i < text.length; i++) {
    crc ^= (text.charCodeAt(i) & 0xff) << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}

/** A CRC as it is written on the line: four upper-case hex digits. */
export function hex4(crc: number): string {
  return crc.toString(16).toUpperCase().padStart(4, '0');
}

export function crc16Hex(text: string): string {
  return hex4(crc16(text));
}
