/*
 * An Arduino Uno in simavr, for the tests: the firmware a technician uploads (an ELF, e.g.
 * StandardFirmata) runs instruction by instruction on an ATmega328P at 16 MHz, its UART0 on a
 * pseudo-terminal (simavr's uart_pty part, as simavr's own simduino example does) that the bridge
 * opens like /dev/ttyACM0, and its pins on a line channel:
 *
 *   uno-uart-pty FIRMWARE.elf [-l LINK] [-b BOOT_MS]
 *
 * stdout, one event a line (nothing else is written there: simavr's own chatter goes to stderr):
 *   pty PATH            once, when UART0 is on the pty at PATH (and LINK points to it)
 *   reset               the host opened the pty: the board reset, as an Uno does on DTR
 *   pin N STATE         Arduino pin N (0-19) changed: low | high (an output), pullup | input
 *   error TEXT          a command was refused (the board runs on)
 * stdin, one command a line:
 *   press N | release N   a button between pin N and GND: pressed pulls it low; released leaves
 *                         it to the pull-up (high while the sketch has the pull-up on)
 * At EOF on stdin (the test went away) the simulator exits.
 *
 * Why each part is as it is:
 * - Pace: simavr runs as fast as the host allows (StandardFirmata's loop at about 34 MHz on the
 *   machine this was written on, twice an Uno), while the host end (firmata.js, johnny-five's
 *   timers, the core's debounce) keeps wall-clock time, and a real Uno answers at 16 MHz. So the
 *   core runs in slices of 1 ms of simulated time and sleeps until the wall clock has caught up:
 *   simulated time tracks real time, at about 45% of one host core. A host too slow for that
 *   runs it flat out, slower than an Uno (the UART's baud rate is kept in simulated time).
 * - Reset on open: an Uno resets when the host opens its port (DTR through a capacitor), so the
 *   sketch announces its version just after the host is listening. A pty has no DTR, so the open
 *   of the slave is watched with inotify (IN_OPEN). The bootloader then holds the chip for
 *   BOOT_MS (default 500; optiboot waits about this long for an upload) before the sketch
 *   starts; the host has finished opening (serialport flushes the tty right after open) by then.
 * - Pins: simavr 1.6 reads an input pin from the level last raised on its IRQ and raises the
 *   internal pull-up's 1 on every write to the port; a held button must win over that, so a press
 *   is also set as the port's "external" level (AVR_IOCTL_IOPORT_SET_EXTERNAL) until released.
 *   An input with neither pull-up nor button reads the level it last had, as a real pin does
 *   for a while from its charge (an output LOW made an input reads low).
 * - INT0/INT1 (D2, D3): simavr 1.6 polls a pin held low every cycle, from each reset on, for the
 *   low-level external interrupt (the reset mode of EICRA), whether or not EIMSK enables it; a
 *   button pin driven low by the sketch (StandardFirmata makes every pin an output, LOW) then
 *   halves the speed and stacks a poll per falling edge. StandardFirmata uses no external
 *   interrupt, so that repeated triggering is turned off (simavr's own switch) after each reset.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "sim_avr.h"
#include "sim_elf.h"
#include "avr_extint.h"
#include "avr_ioport.h"
#include "uart_pty.h"

#define FREQUENCY 16000000UL
#define SLICE_CYCLES (FREQUENCY / 1000) /* 1 ms of simulated time */
#define PIN_COUNT 20
/* Behind the wall clock by more than this, the pace starts again from now (no burst to catch up). */
#define MAX_LAG_NS 200000000LL

enum pin_state { PIN_UNKNOWN = -1, PIN_LOW, PIN_HIGH, PIN_PULLUP, PIN_INPUT };
static const char *const STATE_NAMES[] = { "low", "high", "pullup", "input" };

/* The Uno's digital pins on the ATmega328P's ports: D0-D7 PORTD, D8-D13 PORTB, A0-A5 (14-19) PORTC. */
static const struct port_map {
	char name;
	int first_pin; /* the Arduino pin on bit 0 */
	int bits;
} PORTS[] = { { 'D', 0, 8 }, { 'B', 8, 6 }, { 'C', 14, 6 } };
#define PORT_COUNT (sizeof(PORTS) / sizeof(PORTS[0]))

static avr_t *avr;
static uart_pty_t uart_pty;
static FILE *events;
static enum pin_state reported[PIN_COUNT];
static uint8_t pressed[PORT_COUNT]; /* per port, the bits held low by a button */
static uint8_t port_value[PORT_COUNT], ddr_value[PORT_COUNT];

static void emit(const char *format, ...) __attribute__((format(printf, 1, 2)));
static void emit(const char *format, ...)
{
	va_list args;
	va_start(args, format);
	vfprintf(events, format, args);
	va_end(args);
	fputc('\n', events);
	fflush(events);
}

static int64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Reports the pins of port `p` whose state changed, from its PORT and DDR registers. */
static void report_port(size_t p)
{
	for (int bit = 0; bit < PORTS[p].bits; bit++) {
		int pin = PORTS[p].first_pin + bit;
		int out = (ddr_value[p] >> bit) & 1, level = (port_value[p] >> bit) & 1;
		enum pin_state state = out ? (level ? PIN_HIGH : PIN_LOW) : (level ? PIN_PULLUP : PIN_INPUT);
		if (state == reported[pin])
			continue;
		reported[pin] = state;
		emit("pin %d %s", pin, STATE_NAMES[state]);
	}
}

/* The sketch wrote PORTx: the register holds the value already. */
static void port_written(struct avr_irq_t *irq, uint32_t value, void *param)
{
	(void)irq;
	size_t p = (size_t)(uintptr_t)param;
	port_value[p] = (uint8_t)value;
	report_port(p);
}

/* The sketch wrote DDRx: raised before the register is written, so the value comes from here. */
static void ddr_written(struct avr_irq_t *irq, uint32_t value, void *param)
{
	(void)irq;
	size_t p = (size_t)(uintptr_t)param;
	ddr_value[p] = (uint8_t)value;
	report_port(p);
}

static int port_of_pin(int pin, size_t *p, int *bit)
{
	for (size_t i = 0; i < PORT_COUNT; i++) {
		if (pin >= PORTS[i].first_pin && pin < PORTS[i].first_pin + PORTS[i].bits) {
			*p = i;
			*bit = pin - PORTS[i].first_pin;
			return 0;
		}
	}
	return -1;
}

/* The level a pin reads from outside: 0 while its button is held, else its pull-up (if on). */
static void drive_pin(size_t p, int bit)
{
	char name = PORTS[p].name;
	avr_ioport_external_t external = { .name = name, .mask = pressed[p], .value = 0 };
	avr_ioctl(avr, AVR_IOCTL_IOPORT_SET_EXTERNAL(name), &external);
	int level = (pressed[p] >> bit) & 1 ? 0 : (port_value[p] >> bit) & 1;
	avr_raise_irq(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ(name), bit), level);
}

/* simavr's reset turns the repeated low-level triggering back on: see the top of the file. */
static void no_level_polling(void)
{
	avr_extint_set_strict_lvl_trig(avr, 0, 0);
	avr_extint_set_strict_lvl_trig(avr, 1, 0);
}

/*
 * After a reset the registers are zero, while simavr's port IRQs keep the last value raised on
 * them, and raise no value twice in a row: a sketch writing DDRx or PORTx with what it held before
 * the reset would go unseen, and an input would read 0 whatever drives it. So the register IRQs
 * are put back to zero, and the level outside each pin (its last one) back into the PIN register.
 */
static void after_reset(void)
{
	for (size_t p = 0; p < PORT_COUNT; p++) {
		char name = PORTS[p].name;
		avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ(name), IOPORT_IRQ_DIRECTION_ALL)->value = 0;
		avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ(name), IOPORT_IRQ_REG_PORT)->value = 0;
		port_value[p] = 0;
		ddr_value[p] = 0;
		for (int bit = 0; bit < 8; bit++) {
			avr_irq_t *irq = avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ(name), bit);
			/* the opposite level, then the level: each raise passes the filter and sets the PIN bit */
			uint32_t level = irq->value & 1;
			avr_raise_irq(irq, !level);
			avr_raise_irq(irq, level);
		}
		report_port(p);
	}
}

static void command(char *line)
{
	char verb[16];
	int pin;
	char extra;
	size_t p;
	int bit;
	if (sscanf(line, "%15s %d %c", verb, &pin, &extra) != 2 || port_of_pin(pin, &p, &bit) != 0 ||
	    (strcmp(verb, "press") != 0 && strcmp(verb, "release") != 0)) {
		emit("error unknown command: %s", line);
		return;
	}
	if (strcmp(verb, "press") == 0)
		pressed[p] |= (uint8_t)(1 << bit);
	else
		pressed[p] &= (uint8_t)~(1 << bit);
	drive_pin(p, bit);
}

/* Reads what stdin has; runs each whole line. Returns -1 at EOF. */
static int read_commands(void)
{
	static char buffer[256];
	static size_t used;
	ssize_t n = read(STDIN_FILENO, buffer + used, sizeof(buffer) - 1 - used);
	if (n == 0)
		return -1;
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	used += (size_t)n;
	buffer[used] = 0;
	char *start = buffer, *end;
	while ((end = strchr(start, '\n'))) {
		*end = 0;
		if (end > start)
			command(start);
		start = end + 1;
	}
	used -= (size_t)(start - buffer);
	memmove(buffer, start, used);
	if (used == sizeof(buffer) - 1) {
		emit("error command too long");
		used = 0;
	}
	return 0;
}

/* Points `link` at `target`, replacing what was there in one step. */
static int replace_link(const char *target, const char *link)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s.%d", link, (int)getpid());
	unlink(tmp);
	if (symlink(target, tmp) != 0)
		return -1;
	return rename(tmp, link);
}

static const char *link_path;
static void remove_link(void)
{
	if (link_path)
		unlink(link_path);
}

static void on_signal(int sig)
{
	(void)sig;
	remove_link();
	_exit(0);
}

int main(int argc, char *argv[])
{
	const char *firmware = NULL;
	long boot_ms = 500;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-l") && i + 1 < argc)
			link_path = argv[++i];
		else if (!strcmp(argv[i], "-b") && i + 1 < argc)
			boot_ms = strtol(argv[++i], NULL, 10);
		else if (!firmware && argv[i][0] != '-')
			firmware = argv[i];
		else {
			fprintf(stderr, "usage: %s FIRMWARE.elf [-l LINK] [-b BOOT_MS]\n", argv[0]);
			return 2;
		}
	}
	if (!firmware) {
		fprintf(stderr, "usage: %s FIRMWARE.elf [-l LINK] [-b BOOT_MS]\n", argv[0]);
		return 2;
	}

	/* stdout is the event channel; simavr and uart_pty print to stdout, so send theirs to stderr */
	int events_fd = dup(STDOUT_FILENO);
	dup2(STDERR_FILENO, STDOUT_FILENO);
	events = fdopen(events_fd, "w");
	fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	atexit(remove_link);

	elf_firmware_t f;
	memset(&f, 0, sizeof(f));
	if (elf_read_firmware(firmware, &f) != 0) {
		fprintf(stderr, "cannot read the firmware %s\n", firmware);
		return 1;
	}
	avr = avr_make_mcu_by_name("atmega328p");
	if (!avr) {
		fprintf(stderr, "simavr has no atmega328p core\n");
		return 1;
	}
	avr_init(avr);
	avr_load_firmware(avr, &f);
	avr->frequency = FREQUENCY;
	avr->log = LOG_ERROR;
	no_level_polling();

	for (size_t p = 0; p < PORT_COUNT; p++) {
		avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ(PORTS[p].name), IOPORT_IRQ_REG_PORT),
					port_written, (void *)(uintptr_t)p);
		avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ(PORTS[p].name), IOPORT_IRQ_DIRECTION_ALL),
					ddr_written, (void *)(uintptr_t)p);
	}
	for (int pin = 0; pin < PIN_COUNT; pin++)
		reported[pin] = PIN_UNKNOWN;

	uart_pty_init(avr, &uart_pty);
	uart_pty_connect(&uart_pty, '0');
	const char *pty = uart_pty.port[0].slavename;
	if (!pty[0]) {
		fprintf(stderr, "uart_pty could not make a pty\n");
		return 1;
	}
	/* uart_pty_connect also points /tmp/simavr-uart0 at it, shared by every simavr on the machine:
	 * ours is LINK, so that one goes (unless another simulator has taken it since) */
	char shared[PATH_MAX];
	ssize_t shared_len = readlink("/tmp/simavr-uart0", shared, sizeof(shared) - 1);
	if (shared_len > 0 && (shared[shared_len] = 0, !strcmp(shared, pty)))
		unlink("/tmp/simavr-uart0");
	int watch = inotify_init1(IN_NONBLOCK);
	if (watch < 0 || inotify_add_watch(watch, pty, IN_OPEN) < 0) {
		fprintf(stderr, "cannot watch %s for opens: %s\n", pty, strerror(errno));
		return 1;
	}
	/* linked once watched: the host's first open through the link resets the board */
	if (link_path && replace_link(pty, link_path) != 0) {
		fprintf(stderr, "cannot link %s to %s: %s\n", link_path, pty, strerror(errno));
		return 1;
	}
	report_port(0), report_port(1), report_port(2);
	emit("pty %s", pty);

	int64_t start_ns = now_ns();
	avr_cycle_count_t start_cycle = avr->cycle;
	int64_t held_until_ns = 0; /* the bootloader's wait after a reset */
	for (;;) {
		struct pollfd fds[2] = { { .fd = STDIN_FILENO, .events = POLLIN }, { .fd = watch, .events = POLLIN } };
		if (poll(fds, 2, 0) > 0) {
			if ((fds[0].revents & (POLLIN | POLLHUP)) && read_commands() < 0)
				break;
			if (fds[1].revents & POLLIN) {
				char buffer[4096];
				while (read(watch, buffer, sizeof(buffer)) > 0)
					;
				avr_reset(avr);
				no_level_polling();
				after_reset();
				emit("reset");
				held_until_ns = now_ns() + boot_ms * 1000000LL;
			}
		}
		int64_t now = now_ns();
		if (now < held_until_ns) {
			struct timespec pause = { 0, 1000000 };
			nanosleep(&pause, NULL);
			start_ns = now_ns();
			start_cycle = avr->cycle;
			continue;
		}
		avr_cycle_count_t until = avr->cycle + SLICE_CYCLES;
		while (avr->cycle < until) {
			int state = avr_run(avr);
			if (state == cpu_Done || state == cpu_Crashed) {
				fprintf(stderr, "the AVR core stopped (state %d) at pc 0x%04x\n", state, avr->pc);
				return 1;
			}
		}
		/* keep simulated time on the wall clock */
		int64_t simulated_ns = (int64_t)((avr->cycle - start_cycle) * 1000000000ULL / FREQUENCY);
		int64_t ahead_ns = simulated_ns - (now_ns() - start_ns);
		if (ahead_ns > 0) {
			struct timespec pause = { ahead_ns / 1000000000LL, ahead_ns % 1000000000LL };
			nanosleep(&pause, NULL);
		} else if (-ahead_ns > MAX_LAG_NS) {
			start_ns = now_ns();
			start_cycle = avr->cycle;
		}
	}
	uart_pty_stop(&uart_pty);
	return 0;
}
