/*
 * stats.c - counts the inputs and bytes a libFuzzer run fed to its
 * target, for the figures in docs/reliability.md.
 *
 * fuzz.mk links the libFuzzer binaries with -Wl,--wrap=LLVMFuzzerTestOneInput,
 * so libFuzzer calls the wrapper below, which counts and then calls the
 * real target. The totals are printed when the run ends. The targets
 * themselves stay unaware of it.
 */
#include "fuzz.h"

int __real_LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int __wrap_LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned long long inputs_run, bytes_run;

int __wrap_LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    inputs_run++;
    bytes_run += size;
    return __real_LLVMFuzzerTestOneInput(data, size);
}

__attribute__((destructor)) static void print_totals(void)
{
    fprintf(stderr, "fuzz totals: %llu inputs, %llu bytes of input\n",
            inputs_run, bytes_run);
}
