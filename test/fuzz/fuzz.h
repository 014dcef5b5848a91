/*
 * fuzz.h - what every fuzz target in test/fuzz/ shares.
 *
 * Each fuzz_<name>.c defines LLVMFuzzerTestOneInput, the entry point
 * libFuzzer calls with one input at a time. The same file is linked two
 * ways (see fuzz.mk):
 *   - with clang -fsanitize=fuzzer,address,undefined: `make fuzz`
 *     explores new inputs for FUZZ_SECONDS;
 *   - with driver.c and gcc -fsanitize=address,undefined: `make
 *     fuzz-regress` replays the seed corpus and every saved crash once,
 *     so a bug found by fuzzing stays fixed.
 * A target checks properties with FUZZ_CHECK; a failed check aborts,
 * which both modes report as a crash with the input that caused it.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                  \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__,   \
                    __LINE__, #cond);                                     \
            abort();                                                      \
        }                                                                 \
    } while (0)

/* Reads input bytes as parameters for the test (split points, limits,
 * modes) from the front of the data, so libFuzzer can mutate them too.
 * Returns 0 once the input is used up. */
typedef struct fuzz_input {
    const uint8_t *data;
    size_t size;
} fuzz_input;

static inline uint8_t fuzz_take_byte(fuzz_input *in)
{
    if (in->size == 0)
        return 0;
    uint8_t b = in->data[0];
    in->data++;
    in->size--;
    return b;
}

/* A copy of data in a heap block of exactly size bytes (plus a NUL when
 * nul_terminate), so AddressSanitizer sees any read past the end. */
static inline char *fuzz_dup(const uint8_t *data, size_t size,
                             int nul_terminate)
{
    char *copy = calloc(size + (nul_terminate ? 1 : 0) + (size == 0), 1);
    if (copy == NULL)
        abort();
    for (size_t i = 0; i < size; i++)
        copy[i] = (char)data[i];
    if (nul_terminate)
        copy[size] = '\0';
    return copy;
}

#endif /* FUZZ_H */
