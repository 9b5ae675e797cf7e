/* Hello world: prints through the UART and exits with code 0. */
#include "runtime.h"

int main(void) {
    puts_uart("Hello from RISC-V on vmcore!\n");
    return 0;
}
