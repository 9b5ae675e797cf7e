/* A tiny freestanding runtime for vmcore guests: UART console and the test finisher. */
#ifndef VMCORE_GUEST_RUNTIME_H
#define VMCORE_GUEST_RUNTIME_H

#include <stdint.h>

#define UART_BASE 0x10000000UL
#define FINISHER_BASE 0x100000UL

static inline void putc_uart(char c) {
    volatile uint8_t *uart = (volatile uint8_t *)UART_BASE;
    while ((uart[5] & 0x20) == 0) {
    }
    uart[0] = (uint8_t)c;
}

static inline void puts_uart(const char *s) {
    while (*s) {
        putc_uart(*s++);
    }
}

static inline void putu_uart(uint64_t value) {
    char buf[21];
    int i = 20;
    buf[i] = 0;
    do {
        buf[--i] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    puts_uart(&buf[i]);
}

__attribute__((noreturn)) static inline void exit_guest(int code) {
    volatile uint32_t *finisher = (volatile uint32_t *)FINISHER_BASE;
    *finisher = code == 0 ? 0x5555u : (((uint32_t)code << 16) | 0x3333u);
    for (;;) {
    }
}

#endif
