/*
 * unit.h - how a CUnit test file registers itself.
 *
 * Each test/unit/test_*.c file tests one module and ends with
 *
 *     UNIT_SUITE(http_parse) {
 *         CU_pSuite s = CU_add_suite("http_parse", NULL, NULL);
 *         CU_add_test(s, "request line", test_request_line);
 *     }
 *
 * The macro registers the function before main() runs (a constructor), so
 * adding a test file needs no other edit: the Makefile picks it up and
 * test/unit/main.c calls every registered suite function.
 */
#ifndef UNIT_H
#define UNIT_H

#include <CUnit/Basic.h>

typedef void (*unit_suite_fn)(void);
void unit_register(const char *name, unit_suite_fn fn);

#define UNIT_SUITE(name)                                                    \
    static void unit_suite_##name(void);                                   \
    __attribute__((constructor)) static void unit_register_##name(void) {  \
        unit_register(#name, unit_suite_##name);                           \
    }                                                                      \
    static void unit_suite_##name(void)

#endif /* UNIT_H */
