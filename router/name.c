/*
 * name.c - which names may become route modules or CGI scripts, and the
 * files they resolve to.
 *
 * The first path segment of a request (/hello/... -> "hello") picks a
 * file in cgi-bin/. That segment comes from the network, so it is checked
 * twice: the name must be plain ([A-Za-z0-9_-]+, so no "..", "/", "." or
 * NUL can reach a file name), and the file found must really live in
 * cgi-bin/ once every symlink is followed (realpath).
 */
#include "router.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool name_char_ok(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
}

bool rt_name_is_valid(const char *name)
{
    if (name == NULL || name[0] == '\0')
        return false;
    size_t len = 0;
    for (; name[len] != '\0'; len++)
        if (len >= RT_NAME_MAX || !name_char_ok(name[len]))
            return false;
    return true;
}

/* True if path is dir itself or below it ("/a/b" is inside "/a", "/ab"
 * is not). Both are real paths without a trailing slash (except "/"). */
static bool path_is_inside(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (strncmp(path, dir, n) != 0)
        return false;
    return n == 1 || path[n] == '/';
}

int rt_resolve_in_dir(const char *dir, const char *file, char *out,
                      size_t out_size)
{
    char joined[PATH_MAX], real_dir[PATH_MAX], real_file[PATH_MAX];
    int n = snprintf(joined, sizeof joined, "%s/%s", dir, file);
    if (n < 0 || (size_t)n >= sizeof joined) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (realpath(dir, real_dir) == NULL || realpath(joined, real_file) == NULL)
        return -1; /* errno from realpath: ENOENT, EACCES, ELOOP ... */
    struct stat st;
    if (!path_is_inside(real_file, real_dir) || stat(real_file, &st) != 0 ||
        !S_ISREG(st.st_mode)) {
        errno = EACCES;
        return -1;
    }
    if (strlen(real_file) >= out_size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(out, real_file);
    return 0;
}
