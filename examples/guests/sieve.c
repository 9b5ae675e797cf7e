/* Sieve of Eratosthenes: counts the primes below N, prints the count, and exits with 0
   if it is right (a CoreMark-like integer workload of loads, stores and branches). */
#include "runtime.h"

#define N 20000
#define EXPECTED 2262

static uint8_t composite[N];

int main(void) {
    int rounds = 3;
    uint64_t count = 0;
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < N; i++) {
            composite[i] = 0;
        }
        count = 0;
        for (uint64_t i = 2; i < N; i++) {
            if (!composite[i]) {
                count++;
                for (uint64_t j = i * i; j < N; j += i) {
                    composite[j] = 1;
                }
            }
        }
    }
    puts_uart("primes below ");
    putu_uart(N);
    puts_uart(": ");
    putu_uart(count);
    puts_uart("\n");
    return count == EXPECTED ? 0 : 1;
}
