/*
 * conn.c - the connection interface: how every other part of the server
 * reads from and writes to a client.
 *
 * A srv_conn carries a small table of transport operations (srv_conn_ops,
 * the idea of Redis's ConnectionType): this file implements it for plain
 * TCP; a TLS transport would fill the same table, and no HTTP or
 * WebSocket code would change.
 *
 * Sockets are non-blocking. The helpers here add waiting with poll(2): on
 * the socket, on the server's shutdown fd (so idle connections notice a
 * shutdown at once, without a polling sleep) and, for WebSocket
 * connections, on a wake-up fd that other threads signal.
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ---- plain TCP transport ---------------------------------------- */

static ssize_t tcp_read(srv_conn *c, void *buf, size_t len)
{
    return recv(c->fd, buf, len, 0);
}

static ssize_t tcp_writev(srv_conn *c, const struct iovec *iov, int iovcnt)
{
    struct msghdr msg = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };
    return sendmsg(c->fd, &msg, MSG_NOSIGNAL);
}

static ssize_t tcp_sendfile(srv_conn *c, int file_fd, off_t *offset, size_t len)
{
    return sendfile(c->fd, file_fd, offset, len);
}

static size_t tcp_pending(srv_conn *c)
{
    (void)c;
    return 0;
}

static void tcp_close(srv_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static const srv_conn_ops tcp_ops = {
    .read = tcp_read,
    .writev = tcp_writev,
    .sendfile = tcp_sendfile,
    .pending = tcp_pending,
    .close = tcp_close,
};

/* Formats a socket address as text; IPv4-mapped IPv6 shown as IPv4. */
static void format_addr(const struct sockaddr_storage *ss, char *ip, size_t iplen, int *port)
{
    ip[0] = '\0';
    *port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, (socklen_t)iplen);
        *port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr))
            inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], ip, (socklen_t)iplen);
        else
            inet_ntop(AF_INET6, &a->sin6_addr, ip, (socklen_t)iplen);
        *port = ntohs(a->sin6_port);
    } else {
        snprintf(ip, iplen, "local");
    }
}

void srv_conn_init_tcp(srv_conn *c, int fd, uint64_t id)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;

    memset(c, 0, sizeof *c);
    c->ops = &tcp_ops;
    c->fd = fd;
    c->id = id;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
        format_addr(&ss, c->peer_ip, sizeof c->peer_ip, &c->peer_port);
    sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        format_addr(&ss, c->local_ip, sizeof c->local_ip, &c->local_port);
}

void srv_conn_close(srv_conn *c)
{
    c->ops->close(c);
}

/* ---- waiting ------------------------------------------------------ */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline (-1 deadline = forever). */
static int ms_left(int64_t deadline)
{
    if (deadline < 0)
        return -1;
    int64_t left = deadline - now_ms();
    return left < 0 ? 0 : (int)left;
}

/* ---- wake-ups by signal ------------------------------------------ */

static pthread_once_t wake_once = PTHREAD_ONCE_INIT;

static void on_wake_signal(int sig)
{
    (void)sig; /* its only job is to end ppoll with EINTR */
}

static void install_wake_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_wake_signal;
    sa.sa_flags = SA_RESTART; /* poll/ppoll are never restarted: they see EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SRV_WAKE_SIGNAL, &sa, NULL);
}

void srv_wake_setup(void)
{
    sigset_t block;
    pthread_once(&wake_once, install_wake_handler);
    sigemptyset(&block);
    sigaddset(&block, SRV_WAKE_SIGNAL);
    pthread_sigmask(SIG_BLOCK, &block, NULL);
}

pid_t srv_thread_id(void)
{
    return gettid();
}

int srv_thread_wake(pid_t tid)
{
    /* tgkill directly: pthread_kill would add two sigprocmask calls. */
    static pid_t pid;
    if (!pid)
        pid = getpid();
    return (int)syscall(SYS_tgkill, pid, tid, SRV_WAKE_SIGNAL);
}

/* The calling thread's mask without the wake signal. */
static const sigset_t *mask_for_wake(void)
{
    static _Thread_local bool ready;
    static _Thread_local sigset_t mask;
    if (!ready) {
        pthread_sigmask(SIG_BLOCK, NULL, &mask);
        sigdelset(&mask, SRV_WAKE_SIGNAL);
        ready = true;
    }
    return &mask;
}

/* ppoll() with the wake signal let through when asked for. Returns
 * poll's result; -2 when the wake signal ended the wait. */
static int poll_fds(struct pollfd *p, int n, int want, int timeout_ms)
{
    if (!(want & SRV_POLL_WAKE_SIGNAL)) {
        int r;
        do {
            r = poll(p, (nfds_t)n, timeout_ms);
        } while (r < 0 && errno == EINTR);
        return r;
    }
    struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };
    int r = ppoll(p, (nfds_t)n, timeout_ms < 0 ? NULL : &ts, mask_for_wake());
    return r < 0 && errno == EINTR ? -2 : r;
}

/* poll() on the socket, and optionally wake_fd and the shutdown fd. */
static int wait_for(srv_conn *c, int want, int wake_fd, bool watch_shutdown, int timeout_ms)
{
    struct pollfd p[3];
    int n = 0, sock_i, wake_i = -1, down_i = -1;

    if ((want & SRV_POLL_READ) && c->ops->pending(c) > 0)
        return SRV_POLL_READ;
    sock_i = n;
    p[n++] = (struct pollfd){ .fd = c->fd,
                              .events = (short)(((want & SRV_POLL_READ) ? POLLIN : 0) |
                                                ((want & SRV_POLL_WRITE) ? POLLOUT : 0)) };
    if (wake_fd >= 0) {
        wake_i = n;
        p[n++] = (struct pollfd){ .fd = wake_fd, .events = POLLIN };
    }
    if (watch_shutdown) {
        down_i = n;
        p[n++] = (struct pollfd){ .fd = srv_shutdown_fd(), .events = POLLIN };
    }

    int r = poll_fds(p, n, want, timeout_ms);
    if (r == -2)
        return SRV_POLL_WAKE;
    if (r < 0)
        return SRV_POLL_ERROR;
    if (r == 0)
        return SRV_POLL_TIMEOUT;

    int got = 0;
    if (p[sock_i].revents & (POLLIN | POLLHUP))
        got |= (want & SRV_POLL_READ) ? SRV_POLL_READ : 0;
    if (p[sock_i].revents & POLLOUT)
        got |= SRV_POLL_WRITE;
    if (p[sock_i].revents & (POLLERR | POLLNVAL))
        got |= SRV_POLL_ERROR;
    if (p[sock_i].revents & POLLHUP && !(want & SRV_POLL_READ))
        got |= SRV_POLL_ERROR;
    if (wake_i >= 0 && (p[wake_i].revents & POLLIN))
        got |= SRV_POLL_WAKE;
    if (down_i >= 0 && (p[down_i].revents & POLLIN))
        got |= SRV_POLL_SHUTDOWN;
    return got;
}

int srv_conn_poll(srv_conn *c, int want, int wake_fd, int timeout_ms)
{
    return wait_for(c, want, wake_fd, !(want & SRV_POLL_NO_SHUTDOWN), timeout_ms);
}

ssize_t srv_conn_read(srv_conn *c, void *buf, size_t len, int timeout_ms)
{
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;

    for (;;) {
        ssize_t n = c->ops->read(c, buf, len);
        if (n >= 0)
            return n;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        int got = wait_for(c, SRV_POLL_READ, -1, true, ms_left(deadline));
        if (got & (SRV_POLL_READ | SRV_POLL_ERROR))
            continue; /* the next read reports data, EOF or the error */
        errno = (got & SRV_POLL_SHUTDOWN) ? ECANCELED : ETIMEDOUT;
        return -1;
    }
}

/* The two clocks of one write call. Progress: the peer must accept some
 * bytes within --write-timeout of our starting to wait. Rate: the whole
 * call must end by --write-timeout plus one second per --min-rate bytes
 * accepted so far, so a client that reads a byte at a time (which resets
 * the progress clock forever) is dropped too, while any real link, far
 * faster than 1 KiB/s, never comes near it. */
typedef struct write_clock {
    int64_t rate_base;     /* start of the call + write timeout        */
    int64_t idle_deadline; /* -1: progress since the last wait          */
    uint64_t sent;         /* bytes the peer accepted in this call      */
} write_clock;

static int write_timeout_ms(void)
{
    const srv_config *cfg = srv_cfg();
    return cfg ? cfg->write_timeout_ms : 30000;
}

static write_clock write_clock_start(void)
{
    return (write_clock){ .rate_base = now_ms() + write_timeout_ms(), .idle_deadline = -1 };
}

static void write_progress(write_clock *wc, size_t n)
{
    wc->sent += n;
    wc->idle_deadline = -1;
}

/* Waits until the peer can take more bytes, within both clocks. Logs why
 * a client is dropped. Shutdown is not watched: in-flight responses are
 * allowed to finish. */
static int wait_writable(srv_conn *c, write_clock *wc)
{
    const srv_config *cfg = srv_cfg();
    uint64_t rate = cfg && cfg->min_rate > 0 ? cfg->min_rate : 1024;
    int64_t rate_deadline = wc->rate_base + (int64_t)(wc->sent * 1000 / rate);
    if (wc->idle_deadline < 0)
        wc->idle_deadline = now_ms() + write_timeout_ms();
    bool by_rate = rate_deadline < wc->idle_deadline;
    int left = ms_left(by_rate ? rate_deadline : wc->idle_deadline);
    int got = left > 0 ? wait_for(c, SRV_POLL_WRITE, -1, false, left) : SRV_POLL_TIMEOUT;
    if (got & SRV_POLL_WRITE)
        return 0;
    if (got & SRV_POLL_TIMEOUT) {
        srv_log(SRV_LOG_INFO, c->id, "%s: %s (%llu bytes taken): dropped", c->peer_ip,
                by_rate ? "client reads slower than --min-rate"
                        : "client took no bytes for --write-timeout",
                (unsigned long long)wc->sent);
        errno = ETIMEDOUT;
    } else {
        errno = EPIPE;
    }
    return -1;
}

int srv_conn_writev_all(srv_conn *c, struct iovec *iov, int iovcnt)
{
    write_clock clock = write_clock_start();

    while (iovcnt > 0) {
        if (iov->iov_len == 0) {
            iov++;
            iovcnt--;
            continue;
        }
        ssize_t n = c->ops->writev(c, iov, iovcnt);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                return -1;
            if (wait_writable(c, &clock) < 0)
                return -1;
            continue;
        }
        write_progress(&clock, (size_t)n);
        /* Skip what was written; iov is the caller's scratch array. */
        size_t done = (size_t)n;
        while (iovcnt > 0 && done >= iov->iov_len) {
            done -= iov->iov_len;
            iov++;
            iovcnt--;
        }
        if (iovcnt > 0) {
            iov->iov_base = (char *)iov->iov_base + done;
            iov->iov_len -= done;
        }
    }
    return 0;
}

int srv_conn_write_all(srv_conn *c, const void *buf, size_t len)
{
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    return srv_conn_writev_all(c, &iov, 1);
}

int srv_conn_sendfile_all(srv_conn *c, int file_fd, off_t offset, size_t len)
{
    write_clock clock = write_clock_start();

    while (len > 0) {
        ssize_t n = c->ops->sendfile(c, file_fd, &offset, len);
        if (n > 0) {
            len -= (size_t)n;
            write_progress(&clock, (size_t)n);
            continue;
        }
        if (n == 0) { /* the file shrank under us */
            errno = EIO;
            return -1;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        if (wait_writable(c, &clock) < 0)
            return -1;
    }
    return 0;
}
