/*
 * main.c - the CUnit runner: runs every suite registered with UNIT_SUITE
 * (see unit.h) and exits non-zero if any test failed.
 *
 * Usage: unit-tests [suite-name]   (no name: all suites)
 */
#include "unit.h"

#include <stdio.h>
#include <string.h>

#define UNIT_MAX_SUITES 64

static struct {
    const char *name;
    unit_suite_fn fn;
} suites[UNIT_MAX_SUITES];
static int nsuites;

void unit_register(const char *name, unit_suite_fn fn)
{
    if (nsuites < UNIT_MAX_SUITES) {
        suites[nsuites].name = name;
        suites[nsuites].fn = fn;
        nsuites++;
    }
}

int main(int argc, char **argv)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    for (int i = 0; i < nsuites; i++)
        if (argc < 2 || strcmp(argv[1], suites[i].name) == 0)
            suites[i].fn();
    CU_basic_set_mode(CU_BRM_NORMAL);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    unsigned ran = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    if (ran == 0) {
        fprintf(stderr, "no tests ran\n");
        return 1;
    }
    return failed ? 1 : 0;
}
