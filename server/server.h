/*
 * server.h - the public interface of server/.
 *
 * server/ is the C counterpart of Python's socketserver + http.server:
 *   config.c        command line and JSON config file        (srv_config_*)
 *   log.c           access log and error log                 (srv_log*)
 *   conn.c          the connection interface: read, write,
 *                   sendfile, poll, close (plain sockets;
 *                   TLS can slot in behind the same table)    (srv_conn_*)
 *   listener.c      listening sockets, accept loop, one
 *                   thread per client, graceful shutdown      (srv_*)
 *   http_parse.c    request line and header parsing           (http_parse_*)
 *   http_chunked.c  chunked request body decoder              (http_chunked_*)
 *   http_response.c status line, headers, error pages         (http_send*)
 *   http_conn.c     one connection's request loop: read a
 *                   request, hand it to the router, repeat    (http_serve)
 *   main.c          ties it together
 *
 * Threading contract: every function here may be called from any
 * connection thread. A srv_conn belongs to the thread that serves it;
 * no other thread reads from, writes to or closes its socket.
 */
#ifndef SERVER_H
#define SERVER_H

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define SRV_NAME "online-game"
#define SRV_VERSION "0.1.0"

/* ------------------------------------------------------------------ */
/* Configuration (config.c)                                            */
/* ------------------------------------------------------------------ */

typedef struct srv_config {
    char bind[256];               /* --bind: "" = all interfaces (v4 + v6) */
    int port;                     /* --port: 8080 (0 = pick a free one)     */
    char root[PATH_MAX];          /* --root: www                            */
    char cgi_dir[PATH_MAX];       /* --cgi-dir: cgi-bin                     */
    char access_log[PATH_MAX];    /* --access-log: logs/access.log, - = stderr */
    char error_log[PATH_MAX];     /* --error-log: logs/error.log, - = stderr */
    char port_file[PATH_MAX];     /* --port-file: write the bound port here (tests) */
    int log_level;                /* --log-level: debug|info|warn|error     */
    int max_conns;                /* --max-conns: 10000                      */
    size_t thread_stack;          /* --thread-stack: bytes, 128 KiB          */
    int header_timeout_ms;        /* --header-timeout: seconds, 10           */
    int keepalive_timeout_ms;     /* --keepalive-timeout: seconds, 15        */
    int write_timeout_ms;         /* --write-timeout: seconds, 30            */
    int body_timeout_ms;          /* --body-timeout: seconds, 30, plus one
                                     per min_rate bytes received            */
    size_t min_rate;              /* --min-rate: bytes/s, 1 KiB: the slowest
                                     average a request body or a response
                                     may move at (past the grace timeouts) */
    int shutdown_timeout_ms;      /* --shutdown-timeout: seconds, 5          */
    int cgi_timeout_ms;           /* --cgi-timeout: seconds, 10              */
    size_t max_header_bytes;      /* --max-header-size: 8192 -> 431          */
    size_t max_uri_bytes;         /* --max-uri-size: 4096 -> 414             */
    size_t max_body_bytes;        /* --max-body-size: 1 MiB -> 413           */
    size_t ws_max_message;        /* --ws-max-message: 16 MiB -> 1009        */
    size_t ws_outbox_bytes;       /* --ws-outbox-size: 1 MiB per connection  */
    int ws_ping_interval_ms;      /* --ws-ping-interval: seconds, 30         */
    int ws_dead_peer_ms;          /* --ws-dead-peer-timeout: seconds, 60     */
    char allowed_origins[1024];   /* --allowed-origins: comma list, "*" = any,
                                     "" = same host as the Host header       */
} srv_config;

/* Fills *cfg with the defaults. */
void srv_config_defaults(srv_config *cfg);

/* Parses argv (and --config FILE, a JSON object whose keys are the long
 * option names without dashes; the command line wins). Returns 0 to run,
 * 1 when --help or --version was printed (exit 0), 2 on a bad option or
 * value (a message was printed to stderr; exit 2). */
int srv_config_parse(srv_config *cfg, int argc, char **argv);

/* The configuration in force; valid after srv_config_set(). Read-only. */
const srv_config *srv_cfg(void);
void srv_config_set(const srv_config *cfg);

/* ------------------------------------------------------------------ */
/* Logs (log.c)                                                        */
/* ------------------------------------------------------------------ */

enum srv_log_level { SRV_LOG_DEBUG, SRV_LOG_INFO, SRV_LOG_WARN, SRV_LOG_ERROR };

/* Opens both logs ("-" = stderr). Returns 0, or -1 with a message on stderr. */
int srv_log_open(const srv_config *cfg);
/* Reopens both logs (SIGHUP, logrotate). Safe while other threads log. */
void srv_log_reopen(void);
void srv_log_close(void);

/* Error log line: "2026-11-21T06:23:00.123Z WARN [conn 42] message".
 * conn_id 0 means "not about a connection". Each line is one write(2),
 * so lines from many threads never tear. */
void srv_log(int level, uint64_t conn_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

struct http_request;
struct srv_conn;
/* Access log line in Combined Log Format, one write(2) per line. */
void srv_log_access(const struct srv_conn *c, const struct http_request *req,
                    int status, uint64_t body_bytes);

/* ------------------------------------------------------------------ */
/* Connections (conn.c) - the Redis "ConnectionType" idea              */
/* ------------------------------------------------------------------ */

typedef struct srv_conn srv_conn;

/* The transport table. Plain TCP is one implementation; TLS is another.
 * All operations are non-blocking: they return -1 with errno EAGAIN when
 * they would block. The srv_conn_* helpers below add waiting. */
typedef struct srv_conn_ops {
    ssize_t (*read)(srv_conn *c, void *buf, size_t len);
    ssize_t (*writev)(srv_conn *c, const struct iovec *iov, int iovcnt);
    ssize_t (*sendfile)(srv_conn *c, int file_fd, off_t *offset, size_t len);
    size_t (*pending)(srv_conn *c); /* bytes readable without the socket */
    void (*close)(srv_conn *c);     /* releases the socket (and TLS state) */
} srv_conn_ops;

struct srv_conn {
    const srv_conn_ops *ops;
    int fd;                 /* the client socket (non-blocking)          */
    uint64_t id;            /* unique, for logs                          */
    char peer_ip[64];       /* textual address, IPv4-mapped shown as v4  */
    int peer_port;
    char local_ip[64];
    int local_port;
    void *transport;        /* per-transport state (TLS), NULL for TCP   */
    void *http;             /* the request loop's state (http_conn.c)    */
};

/* Result bits of srv_conn_poll. */
enum {
    SRV_POLL_READ = 1,      /* the socket is readable (or has pending data) */
    SRV_POLL_WRITE = 2,     /* the socket is writable                       */
    SRV_POLL_WAKE = 4,      /* wake_fd is readable                          */
    SRV_POLL_SHUTDOWN = 8,  /* the server is shutting down                  */
    SRV_POLL_TIMEOUT = 16,  /* timeout_ms passed with nothing else          */
    SRV_POLL_ERROR = 32,    /* poll failed or the socket reported an error  */
    SRV_POLL_NO_SHUTDOWN = 64, /* in `want`: do not watch for shutdown (a
                                  connection already closing because of it) */
    SRV_POLL_WAKE_SIGNAL = 128 /* in `want`: also return (SRV_POLL_WAKE) when
                                  another thread calls srv_thread_wake on
                                  this one                                  */
};

/* Waits until the socket is readable (want & SRV_POLL_READ), writable
 * (want & SRV_POLL_WRITE), wake_fd (if >= 0) is readable, the server
 * begins shutting down, or timeout_ms passes (-1 = no timeout). Returns a
 * mask of the SRV_POLL_* bits that happened. */
int srv_conn_poll(srv_conn *c, int want, int wake_fd, int timeout_ms);

/* Waking a thread that waits in srv_conn_poll: a signal (SRV_WAKE_SIGNAL),
 * not a file descriptor per connection, so 10,000 WebSocket connections
 * need 10,000 descriptors, not 20,000. The signal is blocked everywhere
 * except inside that poll (ppoll unblocks it atomically), so it never
 * interrupts anything else, and one sent while the thread is busy stays
 * pending until its next wait: no wake-up is lost. */
#define SRV_WAKE_SIGNAL SIGUSR1
/* Installs the (empty) handler once and blocks the signal in the calling
 * thread; call it before starting threads (they inherit the mask). */
void srv_wake_setup(void);
/* The calling thread's kernel id, for srv_thread_wake. */
pid_t srv_thread_id(void);
/* Wakes the thread with kernel id tid (one tgkill system call); the
 * caller must know the thread is still alive. */
int srv_thread_wake(pid_t tid);

/* Reads at most len bytes, waiting up to timeout_ms (-1 = forever).
 * Returns > 0 bytes read, 0 on orderly EOF, -1 on error with errno set:
 * ETIMEDOUT on timeout, ECANCELED when the server began shutting down
 * (only while no byte is buffered: idle connections close at shutdown). */
ssize_t srv_conn_read(srv_conn *c, void *buf, size_t len, int timeout_ms);

/* Writes everything; the peer must take some bytes within --write-timeout,
 * and all of them within --write-timeout + 1 s per --min-rate bytes taken
 * (else ETIMEDOUT, logged). Returns 0, or -1 with errno set. Never gives
 * up because of shutdown: in-flight responses finish. */
int srv_conn_write_all(srv_conn *c, const void *buf, size_t len);
int srv_conn_writev_all(srv_conn *c, struct iovec *iov, int iovcnt);
int srv_conn_sendfile_all(srv_conn *c, int file_fd, off_t offset, size_t len);

/* Plain-TCP transport; wraps an accepted socket. */
void srv_conn_init_tcp(srv_conn *c, int fd, uint64_t id);
void srv_conn_close(srv_conn *c);

/* ------------------------------------------------------------------ */
/* Listener and lifecycle (listener.c)                                 */
/* ------------------------------------------------------------------ */

/* Binds, accepts and serves until srv_request_shutdown(); then waits up
 * to shutdown_timeout for connections to finish. Returns the exit code. */
int srv_serve_forever(const srv_config *cfg);

/* Async-signal-safe: begins a graceful shutdown. */
void srv_request_shutdown(void);
bool srv_shutting_down(void);
/* A file descriptor that becomes (and stays) readable once shutdown
 * begins; poll it beside your socket. */
int srv_shutdown_fd(void);
/* Connections currently being served. */
int srv_active_connections(void);

/* ------------------------------------------------------------------ */
/* HTTP requests (http_parse.c, http_chunked.c)                        */
/* ------------------------------------------------------------------ */

#define HTTP_MAX_HEADERS 100

enum http_method {
    HTTP_OTHER = 0, /* syntactically valid but unknown -> 501 */
    HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_PUT, HTTP_DELETE,
    HTTP_OPTIONS, HTTP_PATCH, HTTP_TRACE, HTTP_CONNECT
};

typedef struct http_header {
    const char *name;   /* as received; compare case-insensitively */
    const char *value;  /* leading and trailing whitespace removed  */
} http_header;

typedef struct http_request {
    /* Set by http_parse_head; strings are NUL-terminated and point into
     * the connection's buffer, valid until the next request is read. */
    const char *method;       /* "GET"                                  */
    int method_id;            /* enum http_method                       */
    const char *target;       /* request-target up to '?' (that byte is
                                 NUL now), so it reads as path; as
                                 received, it is path "?" query         */
    const char *path;         /* raw path part of target, "/a%20b"      */
    const char *query;        /* after '?', "" if none                  */
    int version_minor;        /* HTTP/1.<minor>: 0 or 1                 */
    http_header headers[HTTP_MAX_HEADERS];
    int nheaders;
    int64_t content_length;   /* -1 when absent                         */
    bool chunked;             /* Transfer-Encoding: chunked             */
    bool keep_alive;          /* from version and Connection header     */
    bool expect_continue;     /* Expect: 100-continue                   */
    bool upgrade;             /* Connection has the "upgrade" token     */
    /* Set by http_serve before the request is dispatched. */
    char *body;               /* whole body, NUL-terminated; "" if none */
    size_t body_len;
    srv_conn *conn;
    int status_sent;          /* status of the response, 0 = none yet   */
} http_request;

/* The value of one hexadecimal digit, or -1 (chunk sizes, %XY escapes). */
static inline int http_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Length of the header section at the start of buf (through the empty
 * line), or 0 if it is not complete yet. Accepts CRLF and bare LF. */
size_t http_head_end(const char *buf, size_t len);

/* Parses a complete header section buf[0..len) in place. Returns 0, or an
 * HTTP status for the error: 400 malformed, 414 URI too long, 431 headers
 * too large/many, 501 unknown method/transfer coding, 505 version. */
int http_parse_head(char *buf, size_t len, http_request *req,
                    size_t max_uri_bytes);

/* First header with this name (case-insensitive), or NULL. */
const char *http_header_get(const http_request *req, const char *name);
/* True if any header with this name holds token in its comma list
 * (case-insensitive): http_header_has_token(r, "Connection", "upgrade"). */
bool http_header_has_token(const http_request *req, const char *name,
                           const char *token);

/* Incremental chunked body decoder (RFC 9112 section 7.1). */
typedef struct http_chunked {
    int state;
    uint64_t chunk_left;
    size_t line_len;
} http_chunked;

enum { HTTP_CHUNKED_MORE = 0, HTTP_CHUNKED_DONE = 1,
       HTTP_CHUNKED_BAD = -1, HTTP_CHUNKED_TOO_LARGE = -2 };

void http_chunked_init(http_chunked *st);
/* Consumes bytes from in[0..in_len), appending decoded data to
 * out[*out_len..out_cap). Sets *consumed. Returns HTTP_CHUNKED_MORE (need
 * more input), HTTP_CHUNKED_DONE (after the last chunk and trailers;
 * bytes after that are not consumed), HTTP_CHUNKED_BAD (400) or
 * HTTP_CHUNKED_TOO_LARGE (body would pass out_cap: 413). */
int http_chunked_decode(http_chunked *st, const char *in, size_t in_len,
                        size_t *consumed, char *out, size_t *out_len,
                        size_t out_cap);

/* ------------------------------------------------------------------ */
/* HTTP responses (http_response.c)                                    */
/* ------------------------------------------------------------------ */

#define HTTP_EXTRA_HEADERS_MAX 2048

typedef struct http_response {
    int status;
    const char *content_type;     /* NULL = no Content-Type header        */
    /* Headers prebuilt by the caller ("Name: value\r\n" lines), e.g. a
     * static file's cached ETag/Last-Modified block. May be NULL. */
    const char *fixed_headers;
    size_t fixed_len;
    /* Headers added with http_response_add_header. */
    char extra[HTTP_EXTRA_HEADERS_MAX];
    size_t extra_len;
    /* Body: bytes in memory, or a file range sent with sendfile. */
    const void *body;
    size_t body_len;
    int file_fd;                  /* >= 0: send file_len bytes at file_off */
    off_t file_off;
    size_t file_len;
    bool close;                   /* send "Connection: close" and close   */
    bool no_body;                 /* 101/204/304: no Content-Length body  */
} http_response;

void http_response_init(http_response *resp, int status);
/* Adds "name: value\r\n". Returns 0, or -1 if it does not fit. */
int http_response_add_header(http_response *resp, const char *name,
                             const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sends the response to req->conn (headers and body; no body for HEAD),
 * writes the access log line and sets req->status_sent. Adds Date,
 * Server, Content-Length and Connection. Returns 0 when the connection
 * may serve another request, -1 when it must close (error, or close). */
int http_send(http_request *req, http_response *resp);

/* Sends a small HTML error page for status (with "Connection: close" for
 * 400/408/413/414/431/5xx framing errors). Same return as http_send. */
int http_send_error(http_request *req, int status);
/* As http_send_error, adding "Allow: <allow>" (405). */
int http_send_405(http_request *req, const char *allow);

/* "Not Found" for 404, "" for unknown codes. */
const char *http_status_text(int status);
/* Formats t as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") into
 * out[30]; returns out. Parses one back: returns -1 if malformed. */
char *http_format_date(int64_t t, char out[30]);
int64_t http_parse_date(const char *s);

/* ------------------------------------------------------------------ */
/* The request loop (http_conn.c)                                      */
/* ------------------------------------------------------------------ */

/* Serves HTTP requests on c until it closes; does not close c. */
void http_serve(srv_conn *c);

/* For a handler that keeps the connection (WebSocket): gives back the
 * request loop's buffer once the request is no longer needed. req and
 * every string in it are invalid afterwards; the loop then ends when the
 * handler returns. */
void http_release(http_request *req);

#endif /* SERVER_H */
