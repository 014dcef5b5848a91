/*
 * listener.c - the accept loop: Python's TCPServer + ThreadingMixIn in C.
 *
 * The steps carry socketserver's names:
 *   server_bind      open the listening sockets (IPv6 dual-stack and IPv4)
 *   get_request      accept(2) one client
 *   verify_request   refuse it (503) when --max-conns are being served
 *   process_request  start one detached thread for it
 *   finish_request   the thread runs http_serve() on the connection
 *   shutdown_request the thread closes the socket and frees the connection
 *
 * Shutdown: srv_request_shutdown() writes one byte to a pipe. The accept
 * loop polls that pipe beside the listening sockets, and every connection
 * waiting for a request polls it too (see conn.c), so all of them wake at
 * once; nobody sleeps in a loop to notice. The pipe is never drained: it
 * stays readable for the rest of the process's life.
 *
 * Shared state, owned by this file: `active` (the number of connection
 * threads alive) with `active_lock` / `active_done`, and the shutdown pipe.
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_LISTENERS 8
#define ACCEPT_BACKOFF_MS 100

static int shutdown_pipe[2] = { -1, -1 };
static atomic_bool shutting_down;
static atomic_uint_fast64_t next_conn_id = 1;

static pthread_mutex_t active_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t active_done = PTHREAD_COND_INITIALIZER;
static int active;

/* ---- shutdown ----------------------------------------------------- */

static pthread_once_t pipe_once = PTHREAD_ONCE_INIT;

/* Creates the shutdown pipe once, whichever thread needs it first. */
static void make_shutdown_pipe(void)
{
    if (pipe2(shutdown_pipe, O_CLOEXEC) < 0) {
        perror("online-game: pipe");
        exit(1);
    }
}

void srv_request_shutdown(void)
{
    pthread_once(&pipe_once, make_shutdown_pipe);
    if (atomic_exchange(&shutting_down, true))
        return;
    char byte = 1;
    if (write(shutdown_pipe[1], &byte, 1) < 0) {
        /* the pipe is new and empty: a one-byte write cannot fail */
    }
}

bool srv_shutting_down(void)
{
    return atomic_load(&shutting_down);
}

int srv_shutdown_fd(void)
{
    pthread_once(&pipe_once, make_shutdown_pipe);
    return shutdown_pipe[0];
}

int srv_active_connections(void)
{
    pthread_mutex_lock(&active_lock);
    int n = active;
    pthread_mutex_unlock(&active_lock);
    return n;
}

/* ---- server_bind -------------------------------------------------- */

static int bind_one(const struct sockaddr *addr, socklen_t len, int family)
{
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (family == AF_INET6) /* "all interfaces" v6 also takes v4 */
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (bind(fd, addr, len) < 0 || listen(fd, 1024) < 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
        return 0;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Opens listening sockets for cfg->bind (all interfaces when empty).
 * With port 0, every address gets the port the first one was given. */
static int server_bind(const srv_config *cfg, int *fds, int *port)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV }, *res, *ai;
    char portstr[16];
    int n = 0, rc;

    snprintf(portstr, sizeof portstr, "%d", cfg->port);
    if (cfg->bind[0] == '\0')
        hints.ai_family = AF_INET6; /* one dual-stack socket */
    rc = getaddrinfo(cfg->bind[0] ? cfg->bind : NULL, portstr, &hints, &res);
    if (rc != 0 && cfg->bind[0] == '\0') { /* no IPv6 on this host */
        hints.ai_family = AF_INET;
        rc = getaddrinfo(NULL, portstr, &hints, &res);
    }
    if (rc != 0) {
        srv_log(SRV_LOG_ERROR, 0, "cannot resolve --bind '%s': %s", cfg->bind, gai_strerror(rc));
        return -1;
    }
    *port = cfg->port;
    for (ai = res; ai && n < MAX_LISTENERS; ai = ai->ai_next) {
        if (*port) { /* the port of the first socket, for port 0 */
            if (ai->ai_family == AF_INET6)
                ((struct sockaddr_in6 *)ai->ai_addr)->sin6_port = htons((uint16_t)*port);
            else
                ((struct sockaddr_in *)ai->ai_addr)->sin_port = htons((uint16_t)*port);
        }
        int fd = bind_one(ai->ai_addr, ai->ai_addrlen, ai->ai_family);
        if (fd < 0) {
            srv_log(SRV_LOG_WARN, 0, "cannot listen on %s port %d: %s",
                    cfg->bind[0] ? cfg->bind : "*", *port, strerror(errno));
            continue;
        }
        if (!*port)
            *port = bound_port(fd);
        fds[n++] = fd;
    }
    freeaddrinfo(res);
    return n > 0 ? n : -1;
}

static void write_port_file(const srv_config *cfg, int port)
{
    if (!cfg->port_file[0])
        return;
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", cfg->port_file);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    fprintf(f, "%d\n", port);
    fclose(f);
    rename(tmp, cfg->port_file); /* readers never see a half-written file */
}

/* ---- one connection's thread -------------------------------------- */

/* A connection thread has ended (or never started). */
static void uncount_request(void)
{
    pthread_mutex_lock(&active_lock);
    if (--active == 0)
        pthread_cond_broadcast(&active_done);
    pthread_mutex_unlock(&active_lock);
}

static void *connection_thread(void *arg)
{
    srv_conn *c = arg;
    http_serve(c);            /* finish_request   */
    srv_conn_close(c);        /* shutdown_request */
    free(c);
    /* Free OpenSSL's per-thread state (SHA-1 of the WebSocket handshake)
     * now: main() may exit as soon as the count drops, before the
     * detached thread's own clean-up would have run. */
    OPENSSL_thread_stop();
    uncount_request();
    return NULL;
}

/* Answers 503 without waiting on the client, then closes. */
static void refuse(int fd, const char *why)
{
    static const char resp[] = "HTTP/1.1 503 Service Unavailable\r\n"
                               "Content-Type: text/plain\r\nContent-Length: 20\r\n"
                               "Retry-After: 1\r\nConnection: close\r\n\r\n"
                               "Server is too busy.\n";
    if (send(fd, resp, sizeof resp - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        /* the client is gone or its buffer is full; it loses nothing more */
    }
    /* Closing with unread bytes (the request, usually here already) makes
     * the kernel answer with a reset that can destroy the 503 before the
     * client reads it. So read what is buffered, never waiting: this is
     * the accept thread. A request still on its way may yet cause a
     * reset; that is the price of never blocking here. */
    char discard[1024];
    for (int i = 0; i < 64; i++)
        if (recv(fd, discard, sizeof discard, MSG_DONTWAIT) <= 0)
            break;
    close(fd);
    srv_log(SRV_LOG_WARN, 0, "refused a connection with 503: %s", why);
}

/* verify_request: is there room for one more connection? Counts it. */
static bool verify_request(const srv_config *cfg)
{
    pthread_mutex_lock(&active_lock);
    bool ok = active < cfg->max_conns;
    if (ok)
        active++;
    pthread_mutex_unlock(&active_lock);
    return ok;
}

/* process_request: one detached thread with a small stack per client. */
static void process_request(const srv_config *cfg, int fd)
{
    srv_conn *c = malloc(sizeof *c);
    pthread_attr_t attr;
    pthread_t tid;
    int one = 1;

    if (!c) {
        uncount_request();
        refuse(fd, "out of memory");
        return;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    srv_conn_init_tcp(c, fd, atomic_fetch_add(&next_conn_id, 1));
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, cfg->thread_stack);
    int rc = pthread_create(&tid, &attr, connection_thread, c);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        free(c);
        uncount_request();
        refuse(fd, strerror(rc));
    }
}

/* get_request: accepts one client; handles the errors accept can give.
 * Returns false when there is nobody more to accept right now. */
static bool get_request(const srv_config *cfg, int lfd)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* Out of descriptors: the client stays in the backlog. Wait
             * a little (or for shutdown) instead of spinning on poll. */
            srv_log(SRV_LOG_ERROR, 0, "accept: %s; backing off %d ms", strerror(errno),
                    ACCEPT_BACKOFF_MS);
            struct pollfd p = { .fd = srv_shutdown_fd(), .events = POLLIN };
            poll(&p, 1, ACCEPT_BACKOFF_MS);
            return false;
        }
        return errno == ECONNABORTED || errno == EINTR; /* EAGAIN: all taken */
    }
    if (!verify_request(cfg))
        refuse(fd, "--max-conns reached");
    else
        process_request(cfg, fd);
    return true;
}

/* Waits for the connection threads to finish, at most the timeout. */
static bool wait_for_connections(int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&active_lock);
    while (active > 0)
        if (pthread_cond_timedwait(&active_done, &active_lock, &until) == ETIMEDOUT)
            break;
    bool all_done = active == 0;
    pthread_mutex_unlock(&active_lock);
    return all_done;
}

int srv_serve_forever(const srv_config *cfg)
{
    int fds[MAX_LISTENERS], port = 0;

    pthread_once(&pipe_once, make_shutdown_pipe);
    int n = server_bind(cfg, fds, &port);
    if (n < 0) {
        fprintf(stderr, "online-game: cannot listen on port %d (see the error log)\n", cfg->port);
        return 1;
    }
    write_port_file(cfg, port);
    srv_log(SRV_LOG_INFO, 0, "%s %s serving %s on port %d", SRV_NAME, SRV_VERSION, cfg->root, port);
    if (isatty(STDOUT_FILENO))
        printf("online-game serving http://localhost:%d/ (Ctrl-C to stop)\n", port);

    struct pollfd p[MAX_LISTENERS + 1];
    for (int i = 0; i < n; i++)
        p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
    p[n] = (struct pollfd){ .fd = srv_shutdown_fd(), .events = POLLIN };
    while (!srv_shutting_down()) {
        if (poll(p, (nfds_t)n + 1, -1) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++) {
            /* Take a batch of waiting clients per wake-up. */
            for (int k = 0; k < 64 && (p[i].revents & POLLIN) && !srv_shutting_down(); k++)
                if (!get_request(cfg, fds[i]))
                    break;
        }
    }
    for (int i = 0; i < n; i++)
        close(fds[i]);

    int left = srv_active_connections();
    srv_log(SRV_LOG_INFO, 0, "shutting down: %d connection(s) to finish", left);
    if (!wait_for_connections(cfg->shutdown_timeout_ms)) {
        srv_log(SRV_LOG_WARN, 0, "shutdown timeout: %d connection(s) cut off",
                srv_active_connections());
        return 0;
    }
    srv_log(SRV_LOG_INFO, 0, "shutdown complete");
    return 0;
}
