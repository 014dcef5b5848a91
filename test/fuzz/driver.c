/*
 * driver.c - runs a fuzz target without libFuzzer.
 *
 * Linked with one fuzz_<name>.c by `make fuzz-regress` (gcc, ASan +
 * UBSan): every argument is a file or a directory of files, and each
 * file is passed once to LLVMFuzzerTestOneInput. This is how the seed
 * corpus and the inputs of past crashes (test/fuzz/regress/) run in
 * `make test` on machines without clang's libFuzzer. A crash aborts with
 * the sanitizer's report, followed by the name of the input file.
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <sanitizer/common_interface_defs.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int files_run;
static size_t bytes_run;
static char current[4096];      /* the file being run, for crash reports */

static void say_which_file(void)
{
    static const char msg[] = "\n*** the failing input is: ";
    (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)!write(STDERR_FILENO, current, strlen(current));
    (void)!write(STDERR_FILENO, "\n", 1);
}

/* A FUZZ_CHECK failure aborts without the sanitizer's death callback. */
static void on_abort(int sig)
{
    say_which_file();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Reads a whole file into a heap block of exactly its size, so the
 * sanitizer sees any read past the end of the input. */
static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (f == NULL || fstat(fileno(f), &st) != 0) {
        fprintf(stderr, "fuzz driver: %s: %s\n", path, strerror(errno));
        if (f)
            fclose(f);
        return NULL;
    }
    *len = (size_t)st.st_size;
    uint8_t *data = malloc(*len ? *len : 1);
    if (data != NULL && fread(data, 1, *len, f) != *len) {
        fprintf(stderr, "fuzz driver: %s: short read\n", path);
        free(data);
        data = NULL;
    }
    fclose(f);
    return data;
}

static int run_file(const char *path)
{
    size_t len = 0;
    uint8_t *input = read_file(path, &len);
    if (input == NULL)
        return -1;
    snprintf(current, sizeof current, "%s", path);
    LLVMFuzzerTestOneInput(input, len);
    free(input);
    files_run++;
    bytes_run += len;
    return 0;
}

static int run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "fuzz driver: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    int status = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (run_file(path) != 0)
            status = -1;
    }
    closedir(d);
    return status;
}

int main(int argc, char **argv)
{
    int status = 0;
    __sanitizer_set_death_callback(say_which_file);
    signal(SIGABRT, on_abort);
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0)
            continue;   /* a target without saved crashes has no dir */
        int r = S_ISDIR(st.st_mode) ? run_dir(argv[i]) : run_file(argv[i]);
        if (r != 0)
            status = 1;
    }
    printf("%s: %d inputs, %zu bytes, no crash\n", argv[0], files_run,
           bytes_run);
    return status;
}
