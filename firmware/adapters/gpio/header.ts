/*
 * The Raspberry Pi's 40-pin header (every model since the B+, the Pi 4 and the Pi 5 alike): which
 * physical pin each BCM GPIO number is on, and the pins the terminal must leave alone. One table,
 * used by the config's messages, doctor and docs/wiring.md.
 */

/** BCM GPIO numbers on the header: 0..27. */
export const HEADER_GPIO_COUNT = 28;

/** Physical header pin of each BCM GPIO, by BCM number. */
const PHYSICAL_PIN: readonly number[] = [27, 28, 3, 5, 7, 29, 31, 26, 24, 21, 19, 23, 32, 33, 8, 10, 36, 11, 12, 35, 38, 40, 15, 16, 18, 22, 37, 13];

/** Lines with a job of their own on every Pi: a config that wires a button to one is refused. */
export const RESERVED_GPIO: ReadonlyMap<number, string> = new Map([
  [0, 'ID_SD, the HAT identification EEPROM (keep GPIO 0 and 1 free)'],
  [1, 'ID_SC, the HAT identification EEPROM (keep GPIO 0 and 1 free)'],
]);

/** The Pi's primary UART (/dev/serial0): TXD on GPIO 14, RXD on GPIO 15. */
export const UART_GPIO: readonly number[] = [14, 15];

/** "GPIO 17 (header pin 11)": how a line is named to a person. */
export function headerName(gpio: number): string {
  const physical = PHYSICAL_PIN[gpio];
  return physical === undefined ? `GPIO ${gpio}` : `GPIO ${gpio} (header pin ${physical})`;
}
