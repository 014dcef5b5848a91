/*
 * wsclient.c - a small command-line WebSocket client (the seed's client.py).
 *
 *   tools/wsclient [--type T] [--origin O] ws://host:port/path
 *
 * Sends each line of standard input as a text message - raw, or with
 * --type T as the typed packet {"type": T, "payload": <line>} where the
 * line is used as JSON if it parses and as a string otherwise - and
 * prints every message it receives, one per line. At the end of input it
 * sends a close frame (1000) and waits for the server's. Prints
 * "closed <code>" when the connection closes; exits 0 for 1000/1001/1005,
 * 1 for any other close, 2 when it cannot connect or the handshake fails.
 *
 * A server that breaks RFC 6455 framing (a masked frame, RSV bits without
 * an extension, a reserved opcode, a bad control frame or fragment) is
 * answered with close 1002; a message over WSC_MAX_MESSAGE bytes with
 * 1009. Either way the client says why on stderr, prints "closed <code>"
 * and exits 1.
 *
 * Self-contained on purpose (the Makefile builds each tool from its one .c,
 * linked with OpenSSL and jansson): it does its own framing, so it is
 * also an independent check of the server's codec.
 */
#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WSC_MAX_MESSAGE ((size_t)64 << 20) /* bytes; more fails with 1009 */

typedef struct client {
    int fd;
    const char *type;          /* --type, or NULL for raw lines          */
    uint8_t *in;               /* received bytes not parsed yet          */
    size_t in_len, in_cap;
    uint8_t *msg;              /* message being assembled from fragments */
    size_t msg_len;
    int msg_opcode;            /* 0 = no message in progress           */
    bool close_sent;
} client;

static void die(int code, const char *fmt, const char *arg)
{
    fprintf(stderr, "wsclient: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(code);
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        die(2, "%s", "out of memory");
    return p;
}

/* ---- connecting --------------------------------------------------- */

typedef struct url {
    char host[256], port[16], path[1024];
} url;

static void parse_url(const char *s, url *u)
{
    if (strncmp(s, "ws://", 5) != 0)
        die(2, "only ws:// URLs are supported: %s", s);
    s += 5;
    size_t hlen = strcspn(s, ":/");
    if (hlen == 0 || hlen >= sizeof u->host)
        die(2, "bad host in URL: %s", s);
    memcpy(u->host, s, hlen);
    u->host[hlen] = '\0';
    s += hlen;
    snprintf(u->port, sizeof u->port, "80");
    if (*s == ':') {
        size_t plen = strcspn(++s, "/");
        if (plen == 0 || plen >= sizeof u->port)
            die(2, "bad port in URL: %s", s);
        memcpy(u->port, s, plen);
        u->port[plen] = '\0';
        s += plen;
    }
    snprintf(u->path, sizeof u->path, "%s", *s ? s : "/");
}

static int connect_to(const url *u)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
    int rc = getaddrinfo(u->host, u->port, &hints, &res);
    if (rc != 0)
        die(2, "cannot resolve host: %s", gai_strerror(rc));
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        die(2, "cannot connect: %s", strerror(errno));
    return fd;
}

static void write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die(1, "write failed: %s", strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

/* Sends the upgrade request and checks the 101 answer. Bytes after the
 * response head are kept in c->in (the server may send frames at once). */
static void handshake(client *c, const url *u, const char *origin)
{
    uint8_t raw[16];
    char key[25], expect[29], req[2048];
    RAND_bytes(raw, sizeof raw);
    EVP_EncodeBlock((unsigned char *)key, raw, sizeof raw);

    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n%s%s%s\r\n",
                     u->path, u->host, u->port, key, origin ? "Origin: " : "",
                     origin ? origin : "", origin ? "\r\n" : "");
    write_all(c->fd, req, (size_t)n);

    char concat[64];
    unsigned char digest[SHA_DIGEST_LENGTH];
    snprintf(concat, sizeof concat, "%s" WS_GUID, key);
    SHA1((unsigned char *)concat, strlen(concat), digest);
    EVP_EncodeBlock((unsigned char *)expect, digest, sizeof digest);

    char head[8192];
    size_t len = 0;
    char *end = NULL;
    while (!end) {
        if (len == sizeof head - 1)
            die(2, "%s", "response head too large");
        ssize_t r = read(c->fd, head + len, sizeof head - 1 - len);
        if (r <= 0)
            die(2, "%s", "connection closed during the handshake");
        len += (size_t)r;
        head[len] = '\0';
        end = strstr(head, "\r\n\r\n");
    }
    *end = '\0';
    if (strncmp(head, "HTTP/1.1 101", 12) != 0) {
        head[strcspn(head, "\r")] = '\0';
        die(2, "handshake refused: %s", head);
    }
    const char *acc = strcasestr(head, "\r\nSec-WebSocket-Accept:");
    if (!acc || strncmp(acc + 23 + strspn(acc + 23, " "), expect, 28) != 0)
        die(2, "%s", "bad Sec-WebSocket-Accept");
    size_t rest = len - (size_t)(end + 4 - head);
    c->in = xrealloc(NULL, rest + 4096);
    c->in_cap = rest + 4096;
    memcpy(c->in, end + 4, rest);
    c->in_len = rest;
}

/* ---- frames -------------------------------------------------------- */

/* Sends one masked frame (client frames must be masked). */
static void send_frame(client *c, int opcode, const void *data, size_t len)
{
    uint8_t hdr[14], mask[4];
    size_t h = 0;
    hdr[h++] = (uint8_t)(0x80 | opcode);
    if (len < 126) {
        hdr[h++] = (uint8_t)(0x80 | len);
    } else if (len <= 0xffff) {
        hdr[h++] = 0x80 | 126;
        hdr[h++] = (uint8_t)(len >> 8);
        hdr[h++] = (uint8_t)len;
    } else {
        hdr[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            hdr[h++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    RAND_bytes(mask, 4);
    memcpy(hdr + h, mask, 4);
    h += 4;
    uint8_t *frame = xrealloc(NULL, h + len);
    memcpy(frame, hdr, h);
    for (size_t i = 0; i < len; i++)
        frame[h + i] = ((const uint8_t *)data)[i] ^ mask[i % 4];
    write_all(c->fd, frame, h + len);
    free(frame);
}

static void send_close(client *c, int code)
{
    uint8_t body[2] = { (uint8_t)(code >> 8), (uint8_t)code };
    if (!c->close_sent)
        send_frame(c, 0x8, body, 2);
    c->close_sent = true;
}

static void print_message(int opcode, const uint8_t *data, size_t len)
{
    if (opcode == 0x1)
        printf("%.*s\n", (int)len, (const char *)data);
    else
        printf("[binary %zu bytes]\n", len);
    fflush(stdout);
}

static int exit_code_for(int code)
{
    return code == 1000 || code == 1001 || code == 1005 ? 0 : 1;
}

/* Fails the connection: tells the server why with close code, then
 * exits (RFC 6455 7.1.7). */
static void fail(client *c, int code, const char *why)
{
    fprintf(stderr, "wsclient: %s\n", why);
    send_close(c, code);
    printf("closed %d\n", code);
    exit(1);
}

/* Checks what a frame header says against RFC 6455 5.2-5.5; fails the
 * connection if it breaks a rule. len is the payload length. */
static void check_header(client *c, uint8_t b0, uint8_t b1, uint64_t len)
{
    int opcode = b0 & 0x0f;
    bool fin = b0 & 0x80, control = opcode & 0x8;
    if (b1 & 0x80)
        fail(c, 1002, "the server sent a masked frame");
    if (b0 & 0x70)
        fail(c, 1002, "the server set RSV bits (no extension was agreed)");
    if ((opcode > 0x2 && opcode < 0x8) || opcode > 0xA)
        fail(c, 1002, "the server used a reserved opcode");
    if (control && (!fin || len > 125))
        fail(c, 1002, "the server sent a fragmented or long control frame");
    if (opcode == 0x8 && len == 1)
        fail(c, 1002, "the server sent a close frame with a 1-byte body");
    if (opcode == 0x0 && c->msg_opcode == 0)
        fail(c, 1002, "the server sent a continuation frame outside a message");
    if ((opcode == 0x1 || opcode == 0x2) && c->msg_opcode != 0)
        fail(c, 1002, "the server started a message inside another one");
    if (len > WSC_MAX_MESSAGE || (!control && c->msg_len + len > WSC_MAX_MESSAGE))
        fail(c, 1009, "the server sent a message over 64 MiB");
}

/* Handles one complete frame (header already checked); exits the
 * program on close. */
static void on_frame(client *c, int fin, int opcode, uint8_t *data, size_t len)
{
    if (opcode == 0x9) {
        send_frame(c, 0xA, data, len);
    } else if (opcode == 0x8) {
        int code = len >= 2 ? (data[0] << 8) | data[1] : 1005;
        send_close(c, len >= 2 ? code : 1000);
        printf("closed %d\n", code);
        exit(exit_code_for(code));
    } else if (opcode <= 0x2) {
        if (opcode != 0)
            c->msg_opcode = opcode;
        c->msg = xrealloc(c->msg, c->msg_len + len);
        memcpy(c->msg + c->msg_len, data, len);
        c->msg_len += len;
        if (fin) {
            print_message(c->msg_opcode, c->msg, c->msg_len);
            c->msg_len = 0;
            c->msg_opcode = 0;
        }
    }
}

/* Parses every complete frame in c->in. */
static void parse_frames(client *c)
{
    size_t pos = 0;
    while (c->in_len - pos >= 2) {
        uint8_t *p = c->in + pos;
        size_t avail = c->in_len - pos, h = 2;
        uint64_t len = p[1] & 0x7f;
        if (len == 126) {
            if (avail < 4)
                break;
            len = ((uint64_t)p[2] << 8) | p[3];
            h = 4;
        } else if (len == 127) {
            if (avail < 10)
                break;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = (len << 8) | p[2 + i];
            h = 10;
        }
        check_header(c, p[0], p[1], len);
        if (avail - h < len)
            break;
        on_frame(c, p[0] & 0x80, p[0] & 0x0f, p + h, (size_t)len);
        pos += h + (size_t)len;
    }
    memmove(c->in, c->in + pos, c->in_len - pos);
    c->in_len -= pos;
}

static void read_socket(client *c)
{
    if (c->in_cap - c->in_len < 65536) {
        c->in_cap = c->in_cap * 2 + 65536;
        c->in = xrealloc(c->in, c->in_cap);
    }
    ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
    if (n < 0 && errno == EINTR)
        return;
    if (n <= 0) {
        printf("closed 1006\n");
        exit(1);
    }
    c->in_len += (size_t)n;
    parse_frames(c);
}

/* ---- standard input -------------------------------------------------- */

static void send_line(client *c, char *line, size_t len)
{
    if (len > 0 && line[len - 1] == '\r')
        line[--len] = '\0';
    if (!c->type) {
        send_frame(c, 0x1, line, len);
        return;
    }
    json_t *payload = json_loadb(line, len, JSON_DECODE_ANY, NULL);
    if (!payload)
        payload = json_stringn(line, len);
    json_t *msg = json_pack("{s:s, s:o}", "type", c->type, "payload", payload);
    char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    if (!text)
        die(1, "%s", "cannot encode the line as JSON (is it UTF-8?)");
    send_frame(c, 0x1, text, strlen(text));
    free(text);
    json_decref(msg);
}

/* Reads stdin; sends complete lines. Returns false at end of input. */
static bool read_stdin(client *c, char **buf, size_t *len, size_t *cap)
{
    if (*cap - *len < 4096) {
        *cap = *cap * 2 + 4096;
        *buf = xrealloc(*buf, *cap);
    }
    ssize_t n = read(STDIN_FILENO, *buf + *len, *cap - *len - 1);
    if (n < 0 && errno == EINTR)
        return true;
    if (n > 0)
        *len += (size_t)n;
    char *start = *buf, *nl;
    while ((nl = memchr(start, '\n', *len - (size_t)(start - *buf)))) {
        *nl = '\0';
        send_line(c, start, (size_t)(nl - start));
        start = nl + 1;
    }
    *len -= (size_t)(start - *buf);
    memmove(*buf, start, *len);
    if (n > 0)
        return true;
    if (*len > 0) { /* a last line without a newline */
        (*buf)[*len] = '\0';
        send_line(c, *buf, *len);
        *len = 0;
    }
    return false;
}

static void usage(void)
{
    fprintf(stderr, "usage: wsclient [--type T] [--origin O] ws://host:port/path\n");
    exit(2);
}

int main(int argc, char **argv)
{
    client c = { .fd = -1 };
    const char *target = NULL, *origin = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--type") == 0 && i + 1 < argc)
            c.type = argv[++i];
        else if (strcmp(argv[i], "--origin") == 0 && i + 1 < argc)
            origin = argv[++i];
        else if (argv[i][0] != '-' && !target)
            target = argv[i];
        else
            usage();
    }
    if (!target)
        usage();

    url u;
    parse_url(target, &u);
    c.fd = connect_to(&u);
    handshake(&c, &u, origin);
    parse_frames(&c);

    char *line = NULL;
    size_t line_len = 0, line_cap = 0;
    bool stdin_open = true;
    for (;;) {
        struct pollfd p[2] = { { .fd = c.fd, .events = POLLIN },
                               { .fd = STDIN_FILENO, .events = POLLIN } };
        if (poll(p, stdin_open ? 2 : 1, -1) < 0 && errno != EINTR)
            die(1, "poll: %s", strerror(errno));
        if (p[0].revents)
            read_socket(&c);
        if (stdin_open && p[1].revents && !read_stdin(&c, &line, &line_len, &line_cap)) {
            stdin_open = false;
            send_close(&c, 1000);
        }
    }
}
