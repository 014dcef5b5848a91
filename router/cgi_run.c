/*
 * cgi_run.c - runs one CGI process: start it, feed the request body to its
 * stdin, collect its stdout, log its stderr, enforce --cgi-timeout, reap.
 *
 * Starting a process from a multithreaded server: fork() copies only the
 * calling thread, so a lock held by another thread (malloc's, the log's)
 * would stay locked forever in the child. posix_spawn (glibc: clone with
 * CLONE_VFORK, then only async-signal-safe steps, then execve) avoids
 * that. Everything is prepared before: argv and envp (cgi_env.c), the
 * pipes (O_CLOEXEC, so no other thread's spawn inherits them), and the
 * child's setup as spawn attributes:
 *   - its own process group, so a timeout kills the script and anything
 *     it started with one kill(-pgid, SIGKILL);
 *   - an empty signal mask and default SIGPIPE/SIGINT/... (the server's
 *     threads block SIGINT/SIGTERM/SIGHUP and ignore SIGPIPE, and both
 *     would otherwise be inherited across execve);
 *   - stdin/stdout/stderr on the pipes, every other fd closed, and the
 *     script's directory as working directory (RFC 3875 section 9).
 *
 * Then one poll() loop does all three pipes at once, so a script that
 * does not read its stdin, or fills its stderr, cannot deadlock us: we
 * never block on one pipe while the script blocks on another. The loop
 * ends when stdout and stderr are closed, the output passes
 * RT_CGI_MAX_OUTPUT, or the deadline passes. Whatever happens, the child
 * is waited for, so no zombie is left behind. Writing to a script that
 * closed its stdin gives EPIPE, not a signal: main.c ignores SIGPIPE.
 */
#include "router.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STDERR_LINE_MAX 512    /* longer stderr lines are cut        */
#define STDERR_LINES_MAX 100   /* per request; then one notice       */

/* The state of one running script, seen from the server. */
typedef struct cgi_proc {
    pid_t pid;
    int in_fd, out_fd, err_fd;  /* our ends of the pipes, -1 once closed */
    const char *body;
    size_t body_len, body_sent;
    char *out;
    size_t out_len, out_cap;
    char err_line[STDERR_LINE_MAX + 1];
    size_t err_len;
    int err_lines;
    const char *name;
    uint64_t conn_id;
} cgi_proc;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* ---- starting ---- */

static void spawn_attributes(posix_spawnattr_t *attr)
{
    static const int reset[] = { SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT,
                                 SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM, SIGXFSZ };
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    for (size_t i = 0; i < sizeof reset / sizeof reset[0]; i++)
        sigaddset(&defaults, reset[i]);
    posix_spawnattr_init(attr);
    posix_spawnattr_setflags(attr, POSIX_SPAWN_SETPGROUP |
                             POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(attr, 0); /* a new group led by the child */
    posix_spawnattr_setsigmask(attr, &none);
    posix_spawnattr_setsigdefault(attr, &defaults);
}

/* The directory part of script ("/a/b/x.sh" -> "/a/b"). */
static void dir_of(const char *script, char *out, size_t out_size)
{
    snprintf(out, out_size, "%s", script);
    char *slash = strrchr(out, '/');
    if (slash != NULL)
        *(slash == out ? slash + 1 : slash) = '\0';
}

/* Starts the script with pipes[i][0/1] = read/write ends for stdin,
 * stdout and stderr. 0, or an errno value. */
static int spawn_script(cgi_proc *p, const char *script, char *const envp[],
                        int pipes[3][2])
{
    char dir[PATH_MAX];
    dir_of(script, dir, sizeof dir);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipes[0][0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, pipes[1][1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, pipes[2][1], STDERR_FILENO);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawn_file_actions_addchdir_np(&fa, dir);
    spawn_attributes(&attr);
    char *const argv[] = { (char *)script, NULL };
    int err = posix_spawn(&p->pid, script, &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return err;
}

/* Creates the pipes, starts the script, keeps our ends (non-blocking). */
static int start(cgi_proc *p, const char *script, char *const envp[])
{
    int pipes[3][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 } };
    int err = 0;
    for (int i = 0; i < 3 && err == 0; i++)
        if (pipe2(pipes[i], O_CLOEXEC) != 0)
            err = errno;
    if (err == 0)
        err = spawn_script(p, script, envp, pipes);
    /* Ours: stdin's write end, stdout's and stderr's read ends. */
    p->in_fd = pipes[0][1];
    p->out_fd = pipes[1][0];
    p->err_fd = pipes[2][0];
    close_fd(&pipes[0][0]);
    close_fd(&pipes[1][1]);
    close_fd(&pipes[2][1]);
    if (err != 0) {
        close_fd(&p->in_fd);
        close_fd(&p->out_fd);
        close_fd(&p->err_fd);
        errno = err;
        return -1;
    }
    fcntl(p->in_fd, F_SETFL, O_NONBLOCK);
    fcntl(p->out_fd, F_SETFL, O_NONBLOCK);
    fcntl(p->err_fd, F_SETFL, O_NONBLOCK);
    if (p->body_len == 0)
        close_fd(&p->in_fd); /* EOF at once */
    return 0;
}

/* ---- the three pipes ---- */

static void feed_stdin(cgi_proc *p)
{
    ssize_t n = write(p->in_fd, p->body + p->body_sent,
                      p->body_len - p->body_sent);
    if (n > 0)
        p->body_sent += (size_t)n;
    /* EPIPE: the script will not read the rest; that is its choice. */
    if ((n < 0 && errno != EAGAIN && errno != EINTR) ||
        p->body_sent == p->body_len)
        close_fd(&p->in_fd);
}

/* Returns -1 when the output passed the limit. */
static int drain_stdout(cgi_proc *p)
{
    for (;;) {
        if (p->out_cap - p->out_len < 4096) {
            if (p->out_cap >= RT_CGI_MAX_OUTPUT)
                return -1;
            size_t cap = p->out_cap ? p->out_cap * 2 : 16384;
            char *grown = realloc(p->out, cap + 1);
            if (grown == NULL)
                return -1;
            p->out = grown;
            p->out_cap = cap;
        }
        ssize_t n = read(p->out_fd, p->out + p->out_len, p->out_cap - p->out_len);
        if (n > 0) {
            p->out_len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 || errno != EAGAIN)
            close_fd(&p->out_fd);
        return 0;
    }
}

/* Logs the buffered stderr line (control characters made visible). */
static void log_stderr_line(cgi_proc *p)
{
    p->err_line[p->err_len] = '\0';
    for (size_t i = 0; i < p->err_len; i++)
        if ((unsigned char)p->err_line[i] < 0x20 || p->err_line[i] == 0x7f)
            p->err_line[i] = '?';
    if (p->err_lines < STDERR_LINES_MAX)
        srv_log(SRV_LOG_WARN, p->conn_id, "cgi %s: stderr: %s", p->name,
                p->err_line);
    else if (p->err_lines == STDERR_LINES_MAX)
        srv_log(SRV_LOG_WARN, p->conn_id, "cgi %s: more stderr output dropped",
                p->name);
    p->err_lines++;
    p->err_len = 0;
}

static void drain_stderr(cgi_proc *p)
{
    char buf[4096];
    ssize_t n;
    while ((n = read(p->err_fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n')
                log_stderr_line(p);
            else if (p->err_len < STDERR_LINE_MAX)
                p->err_line[p->err_len++] = buf[i];
        }
    }
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        if (p->err_len > 0)
            log_stderr_line(p);
        close_fd(&p->err_fd);
    }
}

/* Moves data until stdout and stderr are closed. Returns 0, 1 at the
 * deadline, -1 when stdout passed the limit. */
static int pump(cgi_proc *p, int64_t deadline)
{
    while (p->out_fd >= 0 || p->err_fd >= 0) {
        struct pollfd fds[3];
        int n = 0, i_in = -1, i_out = -1, i_err = -1;
        if (p->in_fd >= 0)
            fds[i_in = n++] = (struct pollfd){ .fd = p->in_fd, .events = POLLOUT };
        if (p->out_fd >= 0)
            fds[i_out = n++] = (struct pollfd){ .fd = p->out_fd, .events = POLLIN };
        if (p->err_fd >= 0)
            fds[i_err = n++] = (struct pollfd){ .fd = p->err_fd, .events = POLLIN };
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return 1;
        if (poll(fds, (nfds_t)n, (int)left) < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        if (i_in >= 0 && fds[i_in].revents)
            feed_stdin(p);
        if (i_out >= 0 && fds[i_out].revents && drain_stdout(p) != 0)
            return -1;
        if (i_err >= 0 && fds[i_err].revents)
            drain_stderr(p);
    }
    return 0;
}

/* ---- ending ---- */

/* Waits for the child until the deadline; kills its group if it is still
 * running (or kill_now). Always reaps. Returns the wait status or -1. */
static int reap(pid_t pid, int64_t deadline, bool kill_now, bool *killed)
{
    int status = 0;
    *killed = false;
    while (!kill_now) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0 && errno != EINTR)
            return -1; /* ECHILD: someone else reaped it */
        if (now_ms() >= deadline)
            break;
        nanosleep(&(struct timespec){ .tv_nsec = 5 * 1000 * 1000 }, NULL);
    }
    kill(-pid, SIGKILL);
    *killed = true;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return status;
}

int rt_cgi_run(const char *script, char *const envp[], const char *body,
               size_t body_len, int timeout_ms, const char *name,
               uint64_t conn_id, rt_cgi_result *res)
{
    cgi_proc p = { .body = body, .body_len = body_len, .name = name,
                   .conn_id = conn_id };
    memset(res, 0, sizeof *res);
    int64_t deadline = now_ms() + timeout_ms;
    if (start(&p, script, envp) != 0) {
        srv_log(SRV_LOG_ERROR, conn_id, "cgi %s: cannot start %s: %s", name,
                script, strerror(errno));
        return -1;
    }
    int pumped = pump(&p, deadline);
    close_fd(&p.in_fd);
    close_fd(&p.out_fd);
    close_fd(&p.err_fd);
    bool killed;
    res->wait_status = reap(p.pid, deadline, pumped != 0, &killed);
    res->too_big = pumped < 0;
    res->timed_out = killed && !res->too_big;
    res->out = p.out != NULL ? p.out : malloc(1);
    res->out_len = p.out_len;
    if (res->out != NULL)
        res->out[res->out_len] = '\0';
    return 0;
}
