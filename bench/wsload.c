/*
 * wsload.c - a small WebSocket load generator for bench/ws.sh.
 *
 * One thread, one epoll set, many client connections. It writes its own
 * opening handshake (and checks Sec-WebSocket-Accept with OpenSSL's SHA-1),
 * sends masked client frames as RFC 6455 requires, answers pings and
 * closes, and measures one of three things:
 *
 *   echo    N connections to an echo endpoint, each keeping a window of W
 *           messages in flight for D seconds: messages/s and round-trip
 *           latency.
 *   fanout  one publisher sending M messages/s to a chat-style broadcast
 *           endpoint and S subscribers: deliveries/s, how many of the
 *           expected deliveries arrived, and delivery latency (every
 *           message carries its send time as "t=<hex ns>;").
 *   idle    N connections opened and held for T seconds while pings are
 *           answered: how many were accepted and stayed open. With
 *           --ready-file the file is created once all are open, so that the
 *           calling script can read the server's RSS meanwhile.
 *
 * The result is one line of key=value pairs on stdout; bench/ws.sh parses
 * it. Build: cc -O2 -Wall -Wextra -Werror -std=c11 -D_GNU_SOURCE
 *            -o wsload wsload.c -lcrypto
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define READ_CHUNK 16384
#define MAX_EVENTS 1024
#define NS_PER_SEC 1000000000LL
#define MAX_PAYLOAD 1024

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

enum mode { MODE_ECHO, MODE_FANOUT, MODE_IDLE };

struct options {
    enum mode mode;
    const char *host;
    int port;
    const char *path;
    int conns;            /* echo, idle: connections; fanout: subscribers */
    int window;           /* echo: messages in flight per connection      */
    int size;             /* bytes per message payload                    */
    double duration;      /* echo, fanout: seconds of measurement         */
    double warmup;        /* echo: seconds before counting starts         */
    double rate;          /* fanout: messages per second                  */
    double hold;          /* idle: seconds to hold the connections        */
    double open_timeout;  /* seconds allowed to open every connection     */
    int parallel;         /* connections being opened at the same time    */
    const char *ready_file;
};

static void usage(void)
{
    fprintf(stderr,
        "usage: wsload echo   --port P [--path /echo] [--conns N] [--window W]\n"
        "                     [--size B] [--duration S] [--warmup S]\n"
        "       wsload fanout --port P [--path /chat] [--subs N] [--rate M]\n"
        "                     [--size B] [--duration S]\n"
        "       wsload idle   --port P [--path /echo] [--conns N] [--hold S]\n"
        "                     [--ready-file F]\n"
        "common: [--host 127.0.0.1] [--open-timeout S] [--parallel K]\n");
    exit(2);
}

static void options_defaults(struct options *o)
{
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->conns = 100;
    o->window = 16;
    o->size = 64;
    o->duration = 5;
    o->warmup = 1;
    o->rate = 100;
    o->hold = 5;
    o->open_timeout = 60;
    o->parallel = 200;
}

static double number_arg(const char *name, const char *value)
{
    char *end;
    double v = strtod(value, &end);
    if (*value == '\0' || *end != '\0' || v < 0) {
        fprintf(stderr, "wsload: bad value for %s: '%s'\n", name, value);
        exit(2);
    }
    return v;
}

static void options_parse(struct options *o, int argc, char **argv)
{
    if (argc < 2)
        usage();
    if (strcmp(argv[1], "echo") == 0) {
        o->mode = MODE_ECHO;
        o->path = "/echo";
    } else if (strcmp(argv[1], "fanout") == 0) {
        o->mode = MODE_FANOUT;
        o->path = "/chat";
        o->conns = 1000;
        o->size = 128;
    } else if (strcmp(argv[1], "idle") == 0) {
        o->mode = MODE_IDLE;
        o->path = "/echo";
        o->conns = 10000;
    } else {
        usage();
    }
    for (int i = 2; i < argc; i += 2) {
        const char *name = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (value == NULL)
            usage();
        if (strcmp(name, "--host") == 0) o->host = value;
        else if (strcmp(name, "--port") == 0) o->port = (int)number_arg(name, value);
        else if (strcmp(name, "--path") == 0) o->path = value;
        else if (strcmp(name, "--conns") == 0 || strcmp(name, "--subs") == 0)
            o->conns = (int)number_arg(name, value);
        else if (strcmp(name, "--window") == 0) o->window = (int)number_arg(name, value);
        else if (strcmp(name, "--size") == 0) o->size = (int)number_arg(name, value);
        else if (strcmp(name, "--duration") == 0) o->duration = number_arg(name, value);
        else if (strcmp(name, "--warmup") == 0) o->warmup = number_arg(name, value);
        else if (strcmp(name, "--rate") == 0) o->rate = number_arg(name, value);
        else if (strcmp(name, "--hold") == 0) o->hold = number_arg(name, value);
        else if (strcmp(name, "--open-timeout") == 0) o->open_timeout = number_arg(name, value);
        else if (strcmp(name, "--parallel") == 0) o->parallel = (int)number_arg(name, value);
        else if (strcmp(name, "--ready-file") == 0) o->ready_file = value;
        else usage();
    }
    if (o->path[0] != '/' || strlen(o->path) > 200) {
        fprintf(stderr, "wsload: --path must start with / and be at most 200 bytes\n");
        exit(2);
    }
    if (o->port <= 0 || o->port > 65535 || o->conns < 1 || o->window < 1 ||
        o->parallel < 1 || o->rate <= 0 || o->size < 32 || o->size > MAX_PAYLOAD ||
        (o->mode == MODE_FANOUT && o->size < 64)) {
        fprintf(stderr, "wsload: need --port, and 32 <= --size <= %d (fanout: >= 64)\n", MAX_PAYLOAD);
        exit(2);
    }
}

/* ------------------------------------------------------------------ */
/* Time, randomness, latency histogram                                 */
/* ------------------------------------------------------------------ */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

/* CPU time (user + system) this process has used so far. */
static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static int64_t seconds_ns(double s)
{
    return (int64_t)(s * (double)NS_PER_SEC);
}

/* xorshift32: masking keys need not be secret for a load generator, only
 * different from frame to frame. */
static uint32_t random_u32(void)
{
    static uint32_t state = 2463534242u;
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
}

/* Latency in microseconds: 1 us buckets below 65.536 ms, then 1 ms buckets
 * up to 65 s. Constant memory, however many samples. */
#define FINE_BUCKETS 65536
#define COARSE_BUCKETS 65536

struct histogram {
    uint64_t fine[FINE_BUCKETS];
    uint64_t coarse[COARSE_BUCKETS];
    uint64_t count;
    uint64_t max_us;
};

static void histogram_add(struct histogram *h, int64_t ns)
{
    uint64_t us = ns > 0 ? (uint64_t)ns / 1000 : 0;
    if (us < FINE_BUCKETS)
        h->fine[us]++;
    else if (us / 1000 < COARSE_BUCKETS)
        h->coarse[us / 1000]++;
    else
        h->coarse[COARSE_BUCKETS - 1]++;
    if (us > h->max_us)
        h->max_us = us;
    h->count++;
}

static uint64_t histogram_percentile(const struct histogram *h, double pct)
{
    if (h->count == 0)
        return 0;
    uint64_t rank = (uint64_t)((double)h->count * pct / 100.0);
    if (rank >= h->count)
        rank = h->count - 1;
    uint64_t seen = 0;
    for (uint64_t us = 0; us < FINE_BUCKETS; us++) {
        seen += h->fine[us];
        if (seen > rank)
            return us;
    }
    for (uint64_t ms = 0; ms < COARSE_BUCKETS; ms++) {
        seen += h->coarse[ms];
        if (seen > rank)
            return ms * 1000;
    }
    return h->max_us;
}

/* ------------------------------------------------------------------ */
/* Byte buffers                                                        */
/* ------------------------------------------------------------------ */

struct buffer {
    unsigned char *data;
    size_t off;   /* first unconsumed byte */
    size_t len;   /* end of valid bytes    */
    size_t cap;
};

static void buffer_reserve(struct buffer *b, size_t extra)
{
    if (b->off > 0 && b->off == b->len)
        b->off = b->len = 0;
    if (b->len + extra <= b->cap)
        return;
    if (b->off > 0) {
        memmove(b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->len + extra <= b->cap)
            return;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra)
        cap *= 2;
    unsigned char *data = realloc(b->data, cap);
    if (data == NULL) {
        fprintf(stderr, "wsload: out of memory\n");
        exit(1);
    }
    b->data = data;
    b->cap = cap;
}

static void buffer_free(struct buffer *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

static size_t buffer_used(const struct buffer *b)
{
    return b->len - b->off;
}

/* Appends one masked client frame (FIN set) carrying payload. */
static void buffer_add_frame(struct buffer *b, int opcode,
                             const void *payload, size_t len)
{
    buffer_reserve(b, len + 14);
    unsigned char *p = b->data + b->len;
    *p++ = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        *p++ = (unsigned char)(0x80 | len);
    } else {
        *p++ = 0x80 | 126;
        *p++ = (unsigned char)(len >> 8);
        *p++ = (unsigned char)len;
    }
    uint32_t key = random_u32();
    unsigned char mask[4];
    memcpy(mask, &key, 4);
    memcpy(p, mask, 4);
    p += 4;
    const unsigned char *src = payload;
    for (size_t i = 0; i < len; i++)
        p[i] = src[i] ^ mask[i & 3];
    b->len = (size_t)(p + len - b->data);
}

/* ------------------------------------------------------------------ */
/* Connections                                                         */
/* ------------------------------------------------------------------ */

enum conn_state { CS_UNUSED, CS_CONNECTING, CS_HANDSHAKE, CS_OPEN, CS_CLOSING, CS_CLOSED };
enum conn_role { ROLE_ECHO, ROLE_PUBLISHER, ROLE_SUBSCRIBER, ROLE_IDLE };

struct conn {
    int fd;
    enum conn_state state;
    enum conn_role role;
    struct buffer in;
    struct buffer out;
    char accept[32];        /* the Sec-WebSocket-Accept we expect */
    bool in_message;        /* inside a fragmented data message   */
};

struct load {
    struct options opt;
    struct sockaddr_in addr;
    int epfd;
    struct conn *conns;
    int nconns;
    int next_to_open;       /* index of the next connection to start     */
    int opening;            /* connecting or in handshake right now      */
    int opened;             /* handshakes that succeeded                 */
    int failed;             /* connects or handshakes that failed        */
    int closed_by_peer;     /* open connections the server closed        */
    bool sending;           /* echo: keep the windows full               */
    bool counting;          /* inside the measured interval              */
    uint64_t received;      /* messages counted while counting           */
    uint64_t other;         /* messages without a timestamp              */
    uint64_t bad;           /* wrong sizes, protocol errors              */
    struct histogram latency;
};

/* Open, or closing but still answering: frames are parsed. */
static bool conn_is_up(const struct conn *c)
{
    return c->state == CS_OPEN || c->state == CS_CLOSING;
}

static void conn_close(struct load *ld, struct conn *c)
{
    if (c->state == CS_OPEN)
        ld->closed_by_peer++;
    if (c->state == CS_CONNECTING || c->state == CS_HANDSHAKE) {
        ld->opening--;
        ld->failed++;
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->state = CS_CLOSED;
    buffer_free(&c->in);
    buffer_free(&c->out);
}

/* Writes as much of the output buffer as the socket takes. */
static void conn_flush(struct load *ld, struct conn *c)
{
    while (buffer_used(&c->out) > 0) {
        ssize_t n = send(c->fd, c->out.data + c->out.off,
                         buffer_used(&c->out), MSG_NOSIGNAL);
        if (n > 0) {
            c->out.off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            if (n < 0 && errno != EAGAIN)
                conn_close(ld, c);
            return;
        }
    }
    c->out.off = c->out.len = 0;
}

static void make_key_and_accept(char key[25], char accept[32])
{
    unsigned char raw[16], digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    char joined[64];

    for (int i = 0; i < 16; i += 4) {
        uint32_t r = random_u32();
        memcpy(raw + i, &r, 4);
    }
    EVP_EncodeBlock((unsigned char *)key, raw, 16);
    snprintf(joined, sizeof joined, "%s%s", key, WS_GUID);
    EVP_Digest(joined, strlen(joined), digest, &digest_len, EVP_sha1(), NULL);
    EVP_EncodeBlock((unsigned char *)accept, digest, (int)digest_len);
}

static void conn_send_handshake(struct load *ld, struct conn *c)
{
    char key[25], request[512];
    make_key_and_accept(key, c->accept);
    int n = snprintf(request, sizeof request,
        "GET %s HTTP/1.1\r\n"
        "Host: %s:%d\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Key: %s\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        "\r\n", ld->opt.path, ld->opt.host, ld->opt.port, key);
    buffer_reserve(&c->out, (size_t)n);
    memcpy(c->out.data + c->out.len, request, (size_t)n);
    c->out.len += (size_t)n;
    c->state = CS_HANDSHAKE;
    conn_flush(ld, c);
}

static void conn_start(struct load *ld, struct conn *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        ld->failed++;
        c->state = CS_CLOSED;
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->state = CS_CONNECTING;
    ld->opening++;
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET,
                              .data.ptr = c };
    if (epoll_ctl(ld->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0 ||
        (connect(c->fd, (struct sockaddr *)&ld->addr, sizeof ld->addr) < 0 &&
         errno != EINPROGRESS))
        conn_close(ld, c);
}

/* Starts connections until `parallel` are being opened at once. */
static void open_more(struct load *ld)
{
    while (ld->next_to_open < ld->nconns && ld->opening < ld->opt.parallel)
        conn_start(ld, &ld->conns[ld->next_to_open++]);
}

/* ------------------------------------------------------------------ */
/* Messages: what each role does with what it receives                 */
/* ------------------------------------------------------------------ */

/* A payload of `size` bytes carrying "t=<16 hex digits of now_ns>;". The
 * fanout message is a typed JSON packet so that it is also valid input for
 * a chat endpoint that dispatches {"type", "payload"} packets. */
static size_t make_payload(struct load *ld, char *out, bool json)
{
    size_t size = (size_t)ld->opt.size;
    int n = json ? snprintf(out, size + 1, "{\"type\":\"chat\",\"payload\":\"t=%016" PRIx64 ";",
                            (uint64_t)now_ns())
                 : snprintf(out, size + 1, "t=%016" PRIx64 ";", (uint64_t)now_ns());
    size_t used = (size_t)n;
    size_t tail = json ? 2 : 0;
    memset(out + used, 'x', size - used - tail);
    if (json)
        memcpy(out + size - 2, "\"}", 2);
    return size;
}

static void send_echo_message(struct load *ld, struct conn *c)
{
    char payload[MAX_PAYLOAD + 1];
    size_t len = make_payload(ld, payload, false);
    buffer_add_frame(&c->out, 0x1, payload, len);
}

/* Finds "t=<hex>;" in a payload; returns the send time or -1. */
static int64_t payload_timestamp(const unsigned char *p, size_t len)
{
    const unsigned char *t = memmem(p, len, "t=", 2);
    if (t == NULL || (size_t)(p + len - t) < 19 || t[18] != ';')
        return -1;
    int64_t ns = 0;
    for (int i = 2; i < 18; i++) {
        int c = t[i];
        int digit = c >= '0' && c <= '9' ? c - '0'
                  : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (digit < 0)
            return -1;
        ns = ns * 16 + digit;
    }
    return ns;
}

static void on_data_message(struct load *ld, struct conn *c,
                            const unsigned char *p, size_t len)
{
    int64_t sent = payload_timestamp(p, len);
    if (c->role == ROLE_PUBLISHER || c->role == ROLE_IDLE)
        return;
    if (sent < 0) {
        ld->other++;
        return;
    }
    if (c->role == ROLE_ECHO && len != (size_t)ld->opt.size)
        ld->bad++;
    if (ld->counting) {
        ld->received++;
        histogram_add(&ld->latency, now_ns() - sent);
    }
    if (c->role == ROLE_ECHO && ld->sending)
        send_echo_message(ld, c);
}

static void on_control_frame(struct load *ld, struct conn *c, int opcode,
                             const unsigned char *p, size_t len)
{
    if (opcode == 0x9) {
        buffer_add_frame(&c->out, 0xA, p, len);
    } else if (opcode == 0x8) {
        if (c->state == CS_OPEN) {
            buffer_add_frame(&c->out, 0x8, p, len >= 2 ? 2 : 0);
            conn_flush(ld, c);
        }
        if (c->state == CS_OPEN || c->state == CS_CLOSING)
            conn_close(ld, c);
    }
}

/* Parses one server frame from c->in. Returns 1 if one was handled, 0 if
 * more bytes are needed, -1 on a protocol error (the connection closes). */
static int parse_frame(struct load *ld, struct conn *c)
{
    const unsigned char *p = c->in.data + c->in.off;
    size_t avail = buffer_used(&c->in);
    if (avail < 2)
        return 0;
    int fin = p[0] & 0x80, opcode = p[0] & 0x0f;
    uint64_t len = p[1] & 0x7f;
    size_t head = 2;
    if (p[1] & 0x80)
        return -1;  /* servers must not mask */
    if (len == 126) {
        if (avail < 4)
            return 0;
        len = (uint64_t)p[2] << 8 | p[3];
        head = 4;
    } else if (len == 127) {
        if (avail < 10)
            return 0;
        len = 0;
        for (int i = 2; i < 10; i++)
            len = len << 8 | p[i];
        head = 10;
    }
    if (len > (64u << 20))
        return -1;
    if (avail < head + len) {
        buffer_reserve(&c->in, head + (size_t)len);
        return 0;
    }
    const unsigned char *payload = p + head;
    c->in.off += head + (size_t)len;
    if (opcode & 0x8) {
        on_control_frame(ld, c, opcode, payload, (size_t)len);
    } else if (c->state == CS_OPEN) {
        if (!c->in_message)
            on_data_message(ld, c, payload, (size_t)len);
        c->in_message = !fin;
    }
    return 1;
}

/* ------------------------------------------------------------------ */
/* Opening handshake and socket events                                  */
/* ------------------------------------------------------------------ */

static bool header_has_value(const char *head, const char *name, const char *value)
{
    for (const char *line = strstr(head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        const char *start = line + 2;
        size_t nlen = strlen(name);
        if (strncasecmp(start, name, nlen) == 0 && start[nlen] == ':') {
            const char *v = start + nlen + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            return strncmp(v, value, strlen(value)) == 0;
        }
    }
    return false;
}

static void on_handshake_bytes(struct load *ld, struct conn *c)
{
    buffer_reserve(&c->in, 1);
    c->in.data[c->in.len] = '\0';
    char *head = (char *)c->in.data + c->in.off;
    char *end = strstr(head, "\r\n\r\n");
    if (end == NULL)
        return;
    end[2] = '\0';
    bool ok = strncmp(head, "HTTP/1.1 101", 12) == 0 &&
              header_has_value(head, "Sec-WebSocket-Accept", c->accept);
    if (!ok) {
        conn_close(ld, c);
        return;
    }
    c->in.off += (size_t)(end + 4 - head);
    c->state = CS_OPEN;
    ld->opening--;
    ld->opened++;
}

static void conn_read(struct load *ld, struct conn *c)
{
    for (;;) {
        buffer_reserve(&c->in, READ_CHUNK);
        ssize_t n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len - 1, 0);
        if (n > 0) {
            c->in.len += (size_t)n;
            if (c->state == CS_HANDSHAKE)
                on_handshake_bytes(ld, c);
            int r = 0;
            while (conn_is_up(c) && (r = parse_frame(ld, c)) == 1)
                ;
            if (conn_is_up(c) && r < 0) {
                ld->bad++;
                conn_close(ld, c);
            }
            if (c->state == CS_CLOSED)
                return;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            if (n == 0 || errno != EAGAIN)
                conn_close(ld, c);
            return;
        }
    }
}

static void on_connected(struct load *ld, struct conn *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0)
        conn_close(ld, c);
    else
        conn_send_handshake(ld, c);
}

static void on_event(struct load *ld, struct conn *c, uint32_t events)
{
    if (c->state == CS_CONNECTING) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            on_connected(ld, c);
        if (c->state != CS_HANDSHAKE)
            return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        conn_read(ld, c);
    if (c->state == CS_HANDSHAKE || conn_is_up(c))
        conn_flush(ld, c);
}

/* Waits for socket events for at most timeout_ms and handles them. */
static void poll_once(struct load *ld, int timeout_ms)
{
    struct epoll_event events[MAX_EVENTS];
    int n = epoll_wait(ld->epfd, events, MAX_EVENTS, timeout_ms);
    for (int i = 0; i < n; i++)
        on_event(ld, events[i].data.ptr, events[i].events);
    open_more(ld);
}

/* Handles events until `until` (monotonic ns). */
static void run_until(struct load *ld, int64_t until)
{
    for (int64_t now = now_ns(); now < until; now = now_ns()) {
        int64_t left_ms = (until - now + 999999) / 1000000;
        poll_once(ld, left_ms > 100 ? 100 : (int)left_ms);
    }
}

/* Opens every connection (bounded by --open-timeout). */
static void open_all(struct load *ld)
{
    int64_t deadline = now_ns() + seconds_ns(ld->opt.open_timeout);
    open_more(ld);
    while (ld->opened + ld->failed < ld->nconns && now_ns() < deadline)
        poll_once(ld, 100);
}

/* ------------------------------------------------------------------ */
/* The three modes                                                     */
/* ------------------------------------------------------------------ */

static void print_latency(const struct load *ld)
{
    printf(" p50_us=%" PRIu64 " p99_us=%" PRIu64 " max_us=%" PRIu64,
           histogram_percentile(&ld->latency, 50),
           histogram_percentile(&ld->latency, 99), ld->latency.max_us);
}

static void flush_all(struct load *ld)
{
    for (int i = 0; i < ld->nconns; i++)
        if (ld->conns[i].state == CS_OPEN)
            conn_flush(ld, &ld->conns[i]);
}

static int run_echo(struct load *ld)
{
    open_all(ld);
    ld->sending = true;
    for (int i = 0; i < ld->nconns; i++) {
        struct conn *c = &ld->conns[i];
        for (int w = 0; c->state == CS_OPEN && w < ld->opt.window; w++)
            send_echo_message(ld, c);
    }
    flush_all(ld);
    run_until(ld, now_ns() + seconds_ns(ld->opt.warmup));
    ld->counting = true;
    int64_t start = now_ns(), cpu_start = cpu_ns();
    run_until(ld, start + seconds_ns(ld->opt.duration));
    int64_t elapsed = now_ns() - start;
    double secs = (double)elapsed / (double)NS_PER_SEC;
    double client_cpu = (double)(cpu_ns() - cpu_start) / (double)elapsed;
    ld->counting = false;
    printf("mode=echo conns=%d opened=%d failed=%d closed=%d window=%d size=%d"
           " seconds=%.2f msgs=%" PRIu64 " rate=%.0f bad=%" PRIu64 " client_cpu=%.2f",
           ld->nconns, ld->opened, ld->failed, ld->closed_by_peer, ld->opt.window,
           ld->opt.size, secs, ld->received, (double)ld->received / secs, ld->bad,
           client_cpu);
    print_latency(ld);
    printf("\n");
    return ld->opened > 0 ? 0 : 1;
}

static void publish_one(struct load *ld)
{
    struct conn *pub = &ld->conns[0];
    char payload[MAX_PAYLOAD + 1];
    if (pub->state != CS_OPEN)
        return;
    size_t len = make_payload(ld, payload, true);
    buffer_add_frame(&pub->out, 0x1, payload, len);
    conn_flush(ld, pub);
}

static int run_fanout(struct load *ld)
{
    open_all(ld);
    if (ld->conns[0].state != CS_OPEN) {
        fprintf(stderr, "wsload: the publisher could not connect\n");
        return 1;
    }
    int subscribers = ld->opened - 1;
    run_until(ld, now_ns() + NS_PER_SEC / 2);   /* let the server register them */
    ld->counting = true;
    int64_t cpu_start = cpu_ns();
    int64_t start = now_ns(), end = start + seconds_ns(ld->opt.duration);
    int64_t interval = (int64_t)((double)NS_PER_SEC / ld->opt.rate), next = start;
    uint64_t sent = 0;
    for (int64_t now = start; now < end; now = now_ns()) {
        while (next <= now && next < end) {
            publish_one(ld);
            sent++;
            next += interval;
        }
        int64_t wait_ms = (next - now_ns()) / 1000000;
        poll_once(ld, wait_ms < 0 ? 0 : wait_ms > 100 ? 100 : (int)wait_ms);
    }
    double client_cpu = (double)(cpu_ns() - cpu_start) / (double)(now_ns() - start);
    uint64_t expected = sent * (uint64_t)subscribers;
    int64_t drain_end = now_ns() + 3 * NS_PER_SEC;
    while (ld->received < expected && now_ns() < drain_end)
        poll_once(ld, 10);
    double secs = (double)(end - start) / (double)NS_PER_SEC;
    printf("mode=fanout subs=%d opened=%d failed=%d closed=%d rate=%.0f size=%d"
           " seconds=%.2f sent=%" PRIu64 " expected=%" PRIu64
           " delivered=%" PRIu64 " deliveries_per_s=%.0f other=%" PRIu64
           " client_cpu=%.2f",
           ld->nconns - 1, subscribers, ld->failed, ld->closed_by_peer, ld->opt.rate,
           ld->opt.size, secs, sent, expected, ld->received,
           (double)ld->received / secs, ld->other, client_cpu);
    print_latency(ld);
    printf("\n");
    return 0;
}

static void touch_ready_file(const char *path)
{
    if (path == NULL)
        return;
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        return;
    }
    fclose(f);
}

static int run_idle(struct load *ld)
{
    int64_t start = now_ns();
    open_all(ld);
    double open_secs = (double)(now_ns() - start) / (double)NS_PER_SEC;
    int accepted = ld->opened;
    touch_ready_file(ld->opt.ready_file);
    run_until(ld, now_ns() + seconds_ns(ld->opt.hold));
    int still_open = 0;
    for (int i = 0; i < ld->nconns; i++)
        still_open += ld->conns[i].state == CS_OPEN;
    printf("mode=idle conns=%d accepted=%d failed=%d still_open=%d"
           " open_seconds=%.2f hold_seconds=%.1f\n",
           ld->nconns, accepted, ld->failed, still_open, open_secs, ld->opt.hold);
    return 0;
}

/* Ends every open connection with a close handshake (code 1000), waiting
 * at most a second for the server's replies, so that servers see a
 * normal goodbye rather than a reset. */
static void close_all(struct load *ld)
{
    static const unsigned char normal[2] = { 0x03, 0xe8 };
    int closing = 0;
    for (int i = 0; i < ld->nconns; i++) {
        struct conn *c = &ld->conns[i];
        if (c->state != CS_OPEN)
            continue;
        buffer_add_frame(&c->out, 0x8, normal, sizeof normal);
        c->state = CS_CLOSING;
        conn_flush(ld, c);
        closing++;
    }
    int64_t deadline = now_ns() + NS_PER_SEC;
    while (closing > 0 && now_ns() < deadline) {
        poll_once(ld, 10);
        closing = 0;
        for (int i = 0; i < ld->nconns; i++)
            closing += ld->conns[i].state == CS_CLOSING;
    }
}

/* ------------------------------------------------------------------ */
/* Set-up                                                              */
/* ------------------------------------------------------------------ */

static void raise_fd_limit(int needed)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)needed + 16)
        fprintf(stderr, "wsload: warning: open-file limit %llu < %d connections\n",
                (unsigned long long)rl.rlim_cur, needed);
}

static void load_init(struct load *ld, const struct options *opt)
{
    memset(ld, 0, sizeof *ld);
    ld->opt = *opt;
    ld->addr.sin_family = AF_INET;
    ld->addr.sin_port = htons((uint16_t)opt->port);
    if (inet_pton(AF_INET, opt->host, &ld->addr.sin_addr) != 1) {
        fprintf(stderr, "wsload: --host must be an IPv4 address\n");
        exit(2);
    }
    ld->nconns = opt->mode == MODE_FANOUT ? opt->conns + 1 : opt->conns;
    ld->conns = calloc((size_t)ld->nconns, sizeof *ld->conns);
    ld->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (ld->conns == NULL || ld->epfd < 0) {
        perror("wsload");
        exit(1);
    }
    for (int i = 0; i < ld->nconns; i++) {
        struct conn *c = &ld->conns[i];
        c->fd = -1;
        c->role = opt->mode == MODE_ECHO ? ROLE_ECHO
                : opt->mode == MODE_IDLE ? ROLE_IDLE
                : i == 0 ? ROLE_PUBLISHER : ROLE_SUBSCRIBER;
    }
}

int main(int argc, char **argv)
{
    struct options opt;
    options_defaults(&opt);
    options_parse(&opt, argc, argv);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit(opt.conns + 1);

    static struct load ld;   /* large (histogram): not on the stack */
    load_init(&ld, &opt);
    int rc = opt.mode == MODE_ECHO ? run_echo(&ld)
           : opt.mode == MODE_FANOUT ? run_fanout(&ld)
           : run_idle(&ld);
    fflush(stdout);
    close_all(&ld);
    for (int i = 0; i < ld.nconns; i++)
        if (ld.conns[i].fd >= 0)
            close(ld.conns[i].fd);
    free(ld.conns);
    close(ld.epfd);
    return rc;
}
