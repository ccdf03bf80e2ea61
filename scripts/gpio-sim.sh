#!/bin/sh
# A simulated Raspberry Pi header GPIO chip, made with the kernel's gpio-sim module, to run the
# Pi-GPIO terminal (config board.io gpio) on any Linux machine that has the module: a laptop, a
# CI runner with its own kernel, a Pi itself. It drives the same character device and the same
# gpiod tools as a real Pi; a button press is the line pulled the other way through sysfs.
#
#   sudo scripts/gpio-sim.sh up              make the chip (28 lines named GPIO0..GPIO27) and print it
#   sudo scripts/gpio-sim.sh press 5         button on GPIO 5 pressed (the line pulled to ground)
#   sudo scripts/gpio-sim.sh release 5       and let go
#   scripts/gpio-sim.sh leds                 what the terminal drives: 1 = lit, per LED line
#   sudo scripts/gpio-sim.sh down            remove the chip
#
# Needs: Linux 5.17 or newer with CONFIG_GPIO_SIM (Debian's and Ubuntu's kernels have it as a
# module), configfs mounted at /sys/kernel/config, and root for up/down/press/release.
# docs/wiring.md ("Without a Pi: the kernel's gpio-sim") shows a whole run.
set -eu

NAME=hcp-terminal
LABEL=hcp-gpio-sim
LINES=28
CONFIGFS=/sys/kernel/config/gpio-sim
DEVICE="$CONFIGFS/$NAME"
BANK="$DEVICE/bank0"
# The reference wiring of docs/wiring.md, in BCM numbers.
BUTTONS="5 6 16 20 21"
LEDS="17 27 22 23 24"
BUZZER=18

fail() {
  echo "gpio-sim.sh: $*" >&2
  exit 1
}

# "5 6 16" -> "5, 6, 16"
commas() {
  echo "$1" | sed 's/ /, /g'
}

# The sysfs folder of the live chip's lines: /sys/devices/platform/gpio-sim.N/gpiochipM.
line_dir() {
  if [ ! -f "$DEVICE/live" ] || [ "$(cat "$DEVICE/live")" != 1 ]; then
    fail "no simulated chip: run 'sudo $0 up' first"
  fi
  echo "/sys/devices/platform/$(cat "$DEVICE/dev_name")/$(cat "$BANK/chip_name")"
}

up() {
  if [ ! -d "$CONFIGFS" ]; then
    modprobe gpio-sim 2>/dev/null || fail "the kernel has no gpio-sim module (CONFIG_GPIO_SIM, Linux 5.17+): use a Pi, or a kernel that has it"
    mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config
  fi
  [ -d "$CONFIGFS" ] || fail "$CONFIGFS is missing after loading gpio-sim: is configfs mounted?"
  [ -d "$DEVICE" ] && fail "$DEVICE exists already: 'sudo $0 down' first"
  mkdir "$DEVICE" "$BANK"
  echo "$LINES" >"$BANK/num_lines"
  echo "$LABEL" >"$BANK/label"
  line=0
  while [ "$line" -lt "$LINES" ]; do
    mkdir "$BANK/line$line"
    echo "GPIO$line" >"$BANK/line$line/name"
    line=$((line + 1))
  done
  echo 1 >"$DEVICE/live"
  chip=$(cat "$BANK/chip_name")
  # The bridge's service user (and you) need the chip as on a Pi: the gpio group.
  if getent group gpio >/dev/null; then
    chgrp gpio "/dev/$chip" && chmod 660 "/dev/$chip"
  fi
  cat <<HOWTO
Simulated chip /dev/$chip [$LABEL] with $LINES lines (GPIO0..GPIO27).
  gpiodetect; gpioinfo $chip      # libgpiod 2: gpioinfo --chip=$chip

In the bridge config (docs/wiring.md), instead of serial:
  board:
    io: gpio
    chip: $LABEL                  # or /dev/$chip
    pins: { buttons: [$(commas "$BUTTONS")], leds: [$(commas "$LEDS")], buzzer: $BUZZER }

Then: hcp doctor -c <config>; hcp run -c <config>. Press button 1 (非常满意) and let go:
  sudo $0 press 5; sudo $0 release 5
See the LEDs: $0 leds
HOWTO
}

down() {
  [ -d "$DEVICE" ] || return 0
  if [ "$(cat "$DEVICE/live")" = 1 ]; then echo 0 >"$DEVICE/live"; fi
  for dir in "$BANK"/line*; do
    if [ -d "$dir" ]; then rmdir "$dir"; fi
  done
  rmdir "$BANK" "$DEVICE"
  echo "removed the simulated chip"
}

# A button between the line and ground, under the bridge's pull-up: pressed pulls it down.
pull() {
  case "$1" in '' | *[!0-9]*) fail "expected a BCM GPIO number 0..$((LINES - 1)), e.g. 5" ;; esac
  [ "$1" -lt "$LINES" ] || fail "GPIO $1: the chip has lines 0..$((LINES - 1))"
  echo "$2" >"$(line_dir)/sim_gpio$1/pull"
}

leds() {
  dir=$(line_dir)
  for line in $LEDS; do
    printf 'LED on GPIO %s: %s\n' "$line" "$(cat "$dir/sim_gpio$line/value")"
  done
  printf 'buzzer on GPIO %s: %s\n' "$BUZZER" "$(cat "$dir/sim_gpio$BUZZER/value")"
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  press) pull "${2:-}" pull-down ;;
  release) pull "${2:-}" pull-up ;;
  leds) leds ;;
  *) fail "unknown command '$1': up, press N, release N, leds, down" ;;
esac
