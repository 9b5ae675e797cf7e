/* A guest to debug: bump() adds to a global, main() sums the results and exits with the
   counter's low 7 bits (55). Setting `spin` from a debugger makes it loop until stopped. */
#include "runtime.h"

volatile uint64_t counter;
volatile int spin;

uint64_t __attribute__((noinline)) bump(uint64_t step) {
    counter += step;
    return counter;
}

int main(void) {
    uint64_t total = 0;
    for (uint64_t i = 1; i <= 10; i++) {
        total += bump(i);
    }
    if (spin) {
        puts_uart("spinning\n");
    }
    while (spin) {
        total++;
    }
    puts_uart("counter ");
    putu_uart(counter);
    puts_uart(" total ");
    putu_uart(total);
    puts_uart("\n");
    return (int)(counter & 0x7f);
}
