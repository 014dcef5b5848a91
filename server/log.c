/*
 * log.c - the access log and the error log.
 *
 * Access log: Combined Log Format, one line per request, as Apache and
 * nginx write it, so log tools understand it:
 *   127.0.0.1 - - [21/Nov/2026:06:23:00 +0000] "GET / HTTP/1.1" 200 512 "-" "curl/7.88"
 * Error log: "2026-11-21T06:23:00.123Z WARN [conn 42] message".
 *
 * Thread safety without a lock: each line is formatted into a buffer on
 * the caller's stack and written with a single write(2) to a file opened
 * with O_APPEND, so lines from thousands of threads never interleave.
 * SIGHUP reopens the files: the new file is dup2()'d over the old
 * descriptor number, which is atomic, so writers never see a closed fd.
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

static int access_fd = -1;
static int error_fd = -1;
static int min_level = SRV_LOG_INFO;
static char access_path[PATH_MAX];
static char error_path[PATH_MAX];
static atomic_bool write_failure_reported;

static size_t append_fmt(char *out, size_t pos, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static const char *level_names[] = { "DEBUG", "INFO", "WARN", "ERROR" };

/* Creates the log file's directory if it is missing (one level: logs/). */
static void make_parent_dir(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        mkdir(dir, 0755);
    }
}

/* Opens a log file ("-" = a duplicate of stderr). Returns the fd or -1. */
static int open_log(const char *path)
{
    if (strcmp(path, "-") == 0)
        return fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    make_parent_dir(path);
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

int srv_log_open(const srv_config *cfg)
{
    snprintf(access_path, sizeof access_path, "%s", cfg->access_log);
    snprintf(error_path, sizeof error_path, "%s", cfg->error_log);
    min_level = cfg->log_level;
    access_fd = open_log(access_path);
    if (access_fd < 0) {
        fprintf(stderr, "online-game: cannot open access log %s: %s\n", access_path, strerror(errno));
        return -1;
    }
    error_fd = open_log(error_path);
    if (error_fd < 0) {
        fprintf(stderr, "online-game: cannot open error log %s: %s\n", error_path, strerror(errno));
        close(access_fd);
        access_fd = -1;
        return -1;
    }
    return 0;
}

/* Points *fd at a freshly opened file of the same path. */
static void reopen_one(int *fd, const char *path)
{
    int nfd = open_log(path);
    if (nfd < 0) {
        srv_log(SRV_LOG_ERROR, 0, "cannot reopen log %s: %s", path, strerror(errno));
        return;
    }
    if (*fd >= 0) {
        dup2(nfd, *fd); /* atomic swap under concurrent writers */
        close(nfd);
    } else {
        *fd = nfd;
    }
}

void srv_log_reopen(void)
{
    reopen_one(&access_fd, access_path);
    reopen_one(&error_fd, error_path);
    atomic_store(&write_failure_reported, false);
    srv_log(SRV_LOG_INFO, 0, "logs reopened");
}

void srv_log_close(void)
{
    if (access_fd >= 0)
        close(access_fd);
    if (error_fd >= 0)
        close(error_fd);
    access_fd = error_fd = -1;
}

/* Writes one whole line; reports the first failure (say, a full disk)
 * once on stderr and in the error log, and keeps serving. */
static void write_line(int fd, const char *line, size_t len)
{
    if (fd < 0)
        return;
    ssize_t n = write(fd, line, len);
    if (n == (ssize_t)len)
        return;
    int err = n < 0 ? errno : ENOSPC;
    if (atomic_exchange(&write_failure_reported, true))
        return;
    char msg[256];
    int m = snprintf(msg, sizeof msg,
                     "online-game: writing a log failed (%s); serving on, further failures not reported\n",
                     strerror(err));
    if (write(STDERR_FILENO, msg, (size_t)m) < 0) { /* nothing left to tell */ }
    if (fd != error_fd && error_fd >= 0 && write(error_fd, msg, (size_t)m) < 0) { /* same */ }
}

void srv_log(int level, uint64_t conn_id, const char *fmt, ...)
{
    if (level < min_level || level < SRV_LOG_DEBUG || level > SRV_LOG_ERROR)
        return;
    char line[LOG_LINE_MAX];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n = append_fmt(line, n, sizeof line, ".%03ldZ %s ", ts.tv_nsec / 1000000, level_names[level]);
    if (conn_id)
        n = append_fmt(line, n, sizeof line, "[conn %llu] ", (unsigned long long)conn_id);

    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += (size_t)m;
    if (n > sizeof line - 2)
        n = sizeof line - 2; /* truncated: still one whole line */
    /* A message never spans lines: log readers rely on that. */
    for (size_t i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[n++] = '\n';
    write_line(error_fd, line, n);
}

/* Appends s to out with '"', '\\' and control bytes escaped (\xHH), so a
 * client cannot forge log lines or break the quoting. */
static size_t append_escaped(char *out, size_t pos, size_t cap, const char *s)
{
    if (!s || !*s)
        s = "-";
    for (; *s && pos + 5 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\' || ch < 0x20 || ch == 0x7f)
            pos += (size_t)snprintf(out + pos, cap - pos, "\\x%02X", ch);
        else
            out[pos++] = (char)ch;
    }
    return pos;
}

/* "[21/Nov/2026:06:23:00 +0000]", formatted once per second per thread. */
static const char *clf_time(void)
{
    static _Thread_local time_t cached_sec = -1;
    static _Thread_local char cached[32];
    time_t now = time(NULL);
    if (now != cached_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(cached, sizeof cached, "[%d/%b/%Y:%H:%M:%S +0000]", &tm);
        cached_sec = now;
    }
    return cached;
}

/* snprintf that appends at pos and never moves pos past cap. */
static size_t append_fmt(char *out, size_t pos, size_t cap, const char *fmt, ...)
{
    if (pos >= cap)
        return cap;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(out + pos, cap - pos, fmt, ap);
    va_end(ap);
    if (m < 0)
        return pos;
    return pos + (size_t)m >= cap ? cap - 1 : pos + (size_t)m;
}

void srv_log_access(const srv_conn *c, const http_request *req, int status, uint64_t body_bytes)
{
    char line[LOG_LINE_MAX];
    size_t cap = sizeof line - 2; /* room for the closing quote and newline */
    bool has_line = req && req->method;
    size_t n = append_fmt(line, 0, cap, "%s - - %s \"", c && c->peer_ip[0] ? c->peer_ip : "-",
                          clf_time());
    if (has_line) {
        n = append_escaped(line, n, cap, req->method);
        n = append_fmt(line, n, cap, " ");
        n = append_escaped(line, n, cap, req->path);
        if (req->query && req->query[0]) {
            n = append_fmt(line, n, cap, "?");
            n = append_escaped(line, n, cap, req->query);
        }
        n = append_fmt(line, n, cap, " HTTP/1.%d", req->version_minor);
    } else {
        n = append_fmt(line, n, cap, "-");
    }
    n = append_fmt(line, n, cap, "\" %d %llu \"", status, (unsigned long long)body_bytes);
    n = append_escaped(line, n, cap, has_line ? http_header_get(req, "Referer") : NULL);
    n = append_fmt(line, n, cap, "\" \"");
    n = append_escaped(line, n, cap, has_line ? http_header_get(req, "User-Agent") : NULL);
    line[n++] = '"';
    line[n++] = '\n';
    write_line(access_fd, line, n);
}
