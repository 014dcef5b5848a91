/*
 * static.c - serves files from the document root (--root, www/).
 *
 * rt_static_serve gets a path already normalised by path.c (no "..", no
 * "//", no encoded separators) and answers GET or HEAD (router.c refuses
 * other methods):
 *   - "/dir/" serves dir/index.html; "/dir" answers 301 to "/dir/"; a
 *     directory without index.html is 404 (there are no listings).
 *   - The file's real path (symlinks resolved with realpath) must lie
 *     inside the root: a symlink leading out is 403 and logged. Only
 *     regular files are served. Dotfiles are served, except names that
 *     start with ".." ("..foo"), which are 404 so that nothing that looks
 *     like a parent reference ever reaches the file system.
 *   - Validators: Last-Modified and a strong ETag made of inode, size and
 *     mtime in nanoseconds. If-None-Match ("*", lists, weak comparison)
 *     and, only without it, If-Modified-Since answer 304.
 *   - Range (GET only, one range, see range.c), guarded by If-Range (an
 *     ETag or a date): 206 with Content-Range, or 416 whose
 *     Content-Range gives the file's size.
 *   Not supported: If-Match, If-Unmodified-Since, multipart ranges.
 *
 * The cache. A request for a file that was seen before must be cheap: one
 * stat() and no open, read, malloc or header formatting. So each file
 * served gets a static_file entry, keyed by the normalised request path,
 * holding its identity (device, inode, size, mtime in ns), its prebuilt
 * header block (Content-Type, Last-Modified, ETag, Accept-Ranges) and,
 * for files of at most 64 KiB, its whole content. Each request stat()s the
 * file again and uses the entry only if the identity still matches, so an
 * edited file is served fresh at once; otherwise the file is loaded again
 * and the new entry replaces the old one. Bigger files keep only the
 * header block and go out with sendfile.
 *
 * Owner and lock. The table (buckets, insertion list, counters) belongs
 * to cache.lock, a mutex held only to find, insert or unlink an entry:
 * never across a stat, a read or a socket write. An entry, once built, is
 * immutable, and its lifetime is its reference count: the table holds one
 * reference while the entry is in it, and each request that uses the
 * entry holds one from lookup until its response has been sent. Whoever
 * drops the last reference frees it, so an entry replaced or evicted while
 * another thread is still sending its bytes stays alive until that send
 * ends. The table is bounded (entries and bytes); when full, the oldest
 * entries are evicted first.
 *
 * Trust: the root is resolved once at start-up. A file's real path is
 * checked when it is loaded; between that check and open() an attacker
 * with write access to www/ could swap a directory for a symlink. Whoever
 * can write to www/ can publish anything anyway, so that is accepted.
 */
#include "router.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATIC_SMALL_FILE_MAX     (64 * 1024)  /* content kept in memory */
#define STATIC_CACHE_BUCKETS      512          /* power of two           */
#define STATIC_CACHE_MAX_ENTRIES  2048
#define STATIC_CACHE_MAX_BYTES    (32u * 1024 * 1024)
#define STATIC_HEADERS_MAX        512
#define STATIC_ETAG_MAX           64

typedef struct static_file {
    struct static_file *next;           /* bucket chain      (cache.lock) */
    struct static_file *older, *newer;  /* insertion order   (cache.lock) */
    atomic_int refs;
    uint32_t hash;
    size_t bytes;                       /* allocation size, for the bound */
    /* Immutable after static_file_new: */
    dev_t dev;
    ino_t ino;
    uint64_t size;
    int64_t mtime_ns;
    int64_t mtime_sec;
    const char *key;                    /* normalised request path        */
    const char *real_path;              /* the file's realpath            */
    const char *headers;                /* prebuilt "Name: value\r\n" lines */
    size_t headers_len;
    size_t type_line_len;               /* the Content-Type line comes first */
    const char *data;                   /* whole content, or NULL (big file) */
    char etag[STATIC_ETAG_MAX];         /* with its quotes                */
    char storage[];                     /* key, real_path, headers, data  */
} static_file;

static struct {
    pthread_mutex_t lock;
    static_file *buckets[STATIC_CACHE_BUCKETS];
    static_file *oldest, *newest;
    size_t entries, bytes;
} cache = { .lock = PTHREAD_MUTEX_INITIALIZER };

static char root[PATH_MAX];     /* realpath of the document root */
static size_t root_len;         /* 0 = the root could not be resolved */

/* ------------------------------------------------------------------ */
/* The cache                                                           */
/* ------------------------------------------------------------------ */

static uint32_t hash_key(const char *key)
{
    uint32_t h = 2166136261u;           /* FNV-1a */
    for (; *key != '\0'; key++)
        h = (h ^ (unsigned char)*key) * 16777619u;
    return h;
}

static void static_file_release(static_file *f)
{
    if (atomic_fetch_sub(&f->refs, 1) == 1)
        free(f);
}

static static_file *cache_find_locked(const char *key, uint32_t h)
{
    static_file *f = cache.buckets[h & (STATIC_CACHE_BUCKETS - 1)];
    while (f != NULL && (f->hash != h || strcmp(f->key, key) != 0))
        f = f->next;
    return f;
}

/* Returns the entry for key with a reference taken, or NULL. */
static static_file *cache_lookup(const char *key)
{
    uint32_t h = hash_key(key);
    pthread_mutex_lock(&cache.lock);
    static_file *f = cache_find_locked(key, h);
    if (f != NULL)
        atomic_fetch_add(&f->refs, 1);
    pthread_mutex_unlock(&cache.lock);
    return f;
}

/* Takes f out of the table and drops the table's reference. */
static void cache_unlink_locked(static_file *f)
{
    static_file **link = &cache.buckets[f->hash & (STATIC_CACHE_BUCKETS - 1)];
    while (*link != f)
        link = &(*link)->next;
    *link = f->next;
    if (f->older != NULL)
        f->older->newer = f->newer;
    else
        cache.oldest = f->newer;
    if (f->newer != NULL)
        f->newer->older = f->older;
    else
        cache.newest = f->older;
    cache.entries--;
    cache.bytes -= f->bytes;
    static_file_release(f);
}

/* Adds f (replacing an entry with the same key), evicting the oldest
 * entries to stay within the bounds. */
static void cache_insert(static_file *f)
{
    if (f->bytes > STATIC_CACHE_MAX_BYTES / 4)
        return;                         /* would crowd out everything */
    pthread_mutex_lock(&cache.lock);
    static_file *old = cache_find_locked(f->key, f->hash);
    if (old != NULL)
        cache_unlink_locked(old);
    while (cache.oldest != NULL &&
           (cache.entries + 1 > STATIC_CACHE_MAX_ENTRIES ||
            cache.bytes + f->bytes > STATIC_CACHE_MAX_BYTES))
        cache_unlink_locked(cache.oldest);
    atomic_fetch_add(&f->refs, 1);      /* the table's reference */
    static_file **bucket = &cache.buckets[f->hash & (STATIC_CACHE_BUCKETS - 1)];
    f->next = *bucket;
    *bucket = f;
    f->older = cache.newest;
    f->newer = NULL;
    if (cache.newest != NULL)
        cache.newest->newer = f;
    else
        cache.oldest = f;
    cache.newest = f;
    cache.entries++;
    cache.bytes += f->bytes;
    pthread_mutex_unlock(&cache.lock);
}

/* ------------------------------------------------------------------ */
/* Building an entry                                                   */
/* ------------------------------------------------------------------ */

static int64_t mtime_ns_of(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static bool same_file(const static_file *f, const struct stat *st)
{
    return f->dev == st->st_dev && f->ino == st->st_ino &&
           f->size == (uint64_t)st->st_size && f->mtime_ns == mtime_ns_of(st);
}

/* Reads up to len bytes from the start of fd. Returns the count (less if
 * the file shrank meanwhile), or -1 on a read error. */
static ssize_t read_whole(int fd, char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, buf + got, len - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* Builds the entry for the open regular file fd (stat st), reading its
 * content if it is small. Returns it with one reference (the caller's),
 * or NULL on a read or memory error. */
static static_file *static_file_new(const char *key, const char *real_path,
                                    int fd, const struct stat *st)
{
    uint64_t size = (uint64_t)st->st_size;
    size_t data_len = size <= STATIC_SMALL_FILE_MAX ? (size_t)size : 0;
    size_t key_len = strlen(key) + 1, path_len = strlen(real_path) + 1;
    size_t bytes = sizeof(static_file) + key_len + path_len +
                   STATIC_HEADERS_MAX + data_len;
    static_file *f = malloc(bytes);
    if (f == NULL)
        return NULL;
    memset(f, 0, sizeof *f);
    char *p = f->storage;
    f->key = memcpy(p, key, key_len);
    p += key_len;
    f->real_path = memcpy(p, real_path, path_len);
    p += path_len;
    char *headers = p;
    p += STATIC_HEADERS_MAX;
    if (size <= STATIC_SMALL_FILE_MAX) {
        ssize_t n = read_whole(fd, p, data_len);
        if (n < 0) {
            free(f);
            return NULL;
        }
        size = (uint64_t)n;     /* shrank meanwhile: the next stat reloads */
        f->data = p;
    }

    atomic_init(&f->refs, 1);
    f->hash = hash_key(key);
    f->bytes = bytes;
    f->dev = st->st_dev;
    f->ino = st->st_ino;
    f->size = size;
    f->mtime_ns = mtime_ns_of(st);
    f->mtime_sec = (int64_t)st->st_mtim.tv_sec;
    snprintf(f->etag, sizeof f->etag, "\"%" PRIx64 "-%" PRIx64 "-%" PRIx64 "\"",
             (uint64_t)f->ino, f->size, (uint64_t)f->mtime_ns);

    char date[30];
    int type_len = snprintf(headers, STATIC_HEADERS_MAX, "Content-Type: %s\r\n",
                            rt_mime_type(real_path));
    int len = snprintf(headers + type_len, STATIC_HEADERS_MAX - (size_t)type_len,
                       "Last-Modified: %s\r\nETag: %s\r\nAccept-Ranges: bytes\r\n",
                       http_format_date(f->mtime_sec, date), f->etag);
    f->headers = headers;
    f->type_line_len = (size_t)type_len;
    f->headers_len = (size_t)type_len + (size_t)len;
    return f;
}

/* ------------------------------------------------------------------ */
/* Finding the file                                                    */
/* ------------------------------------------------------------------ */

static bool inside_root(const char *real_path)
{
    if (strncmp(real_path, root, root_len) != 0)
        return false;
    return real_path[root_len] == '\0' || real_path[root_len] == '/' ||
           root[root_len - 1] == '/';           /* the root is "/" */
}

/* Resolves path with realpath into real (PATH_MAX) and stats it. Returns
 * 0, or 404 (missing), 403 (no permission, or outside the root: logged). */
static int resolve(http_request *req, const char *path, char *real,
                   struct stat *st)
{
    if (realpath(path, real) == NULL)
        return errno == EACCES ? 403 : 404;
    if (!inside_root(real)) {
        srv_log(SRV_LOG_WARN, req->conn ? req->conn->id : 0,
                "static: refused %.200s from %s: it resolves to %.200s, "
                "outside the document root", req->target,
                req->conn ? req->conn->peer_ip : "?", real);
        return 403;
    }
    if (stat(real, st) != 0)
        return errno == EACCES ? 403 : 404;
    return 0;
}

/* Finds, opens and caches the file for the normalised path. Returns 0
 * with *out (one reference) and *fd_out (an open fd for a big file, -1
 * for a small one held in memory), or an HTTP status: 301 (a directory
 * named without its "/"), 403, 404 or 500. */
static int static_file_load(http_request *req, const char *key,
                            static_file **out, int *fd_out)
{
    char path[PATH_MAX], real[PATH_MAX];
    struct stat st;

    if ((size_t)snprintf(path, sizeof path, "%s%s", root, key) >= sizeof path)
        return 404;
    int status = resolve(req, path, real, &st);
    if (status != 0)
        return status;
    if (S_ISDIR(st.st_mode)) {
        if (key[strlen(key) - 1] != '/')
            return 301;
        if ((size_t)snprintf(path, sizeof path, "%s/index.html", real) >= sizeof path)
            return 404;
        status = resolve(req, path, real, &st);
        if (status != 0)
            return status;
    }
    if (!S_ISREG(st.st_mode))
        return 404;

    /* O_NONBLOCK: should it have become a FIFO meanwhile, never block. */
    int fd = open(real, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return errno == EACCES ? 403 : 404;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return 404;
    }
    static_file *f = static_file_new(key, real, fd, &st);
    if (f == NULL) {
        srv_log(SRV_LOG_ERROR, req->conn ? req->conn->id : 0,
                "static: cannot load %.200s: %s", real, strerror(errno));
        close(fd);
        return 500;
    }
    if (f->data != NULL) {
        close(fd);
        fd = -1;
    }
    cache_insert(f);
    *out = f;
    *fd_out = fd;
    return 0;
}

/* True if the cached entry still describes the file on disk. For a big
 * file it also opens it, into *fd. */
static bool static_file_is_fresh(const static_file *f, int *fd)
{
    struct stat st;
    if (f->data != NULL)
        return stat(f->real_path, &st) == 0 && same_file(f, &st);
    *fd = open(f->real_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (*fd < 0)
        return false;
    if (fstat(*fd, &st) == 0 && same_file(f, &st))
        return true;
    close(*fd);
    *fd = -1;
    return false;
}

/* ------------------------------------------------------------------ */
/* Conditional requests and ranges (RFC 9110 sections 13 and 14)       */
/* ------------------------------------------------------------------ */

/* If-None-Match: "*" or a list of entity tags, compared weakly (a "W/"
 * prefix is ignored). */
static bool etag_list_matches(const char *list, const char *etag)
{
    size_t etag_len = strlen(etag);
    const char *p = list;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '\0')
            return false;
        if (*p == '*')
            return true;
        if (p[0] == 'W' && p[1] == '/')
            p += 2;
        if (*p != '"')
            return false;               /* malformed: no match */
        const char *end = strchr(p + 1, '"');
        if (end == NULL)
            return false;
        if ((size_t)(end + 1 - p) == etag_len && memcmp(p, etag, etag_len) == 0)
            return true;
        p = end + 1;
    }
}

static bool not_modified(const http_request *req, const static_file *f)
{
    const char *inm = http_header_get(req, "If-None-Match");
    if (inm != NULL)
        return etag_list_matches(inm, f->etag);
    const char *ims = http_header_get(req, "If-Modified-Since");
    if (ims != NULL) {
        int64_t since = http_parse_date(ims);
        return since >= 0 && f->mtime_sec <= since;
    }
    return false;
}

/* If-Range: the range applies only if the validator matches exactly
 * (strong comparison for an ETag; a weak one never matches). */
static bool if_range_matches(const http_request *req, const static_file *f)
{
    const char *v = http_header_get(req, "If-Range");
    if (v == NULL)
        return true;
    if (v[0] == '"')
        return strcmp(v, f->etag) == 0;
    if (v[0] == 'W' && v[1] == '/')
        return false;
    int64_t date = http_parse_date(v);
    return date >= 0 && date == f->mtime_sec;
}

/* ------------------------------------------------------------------ */
/* Responses                                                           */
/* ------------------------------------------------------------------ */

static int send_416(http_request *req, const static_file *f)
{
    static const char body[] = "416 Range Not Satisfiable\n";
    http_response resp;
    http_response_init(&resp, 416);
    resp.content_type = "text/plain; charset=utf-8";
    http_response_add_header(&resp, "Content-Range", "bytes */%" PRIu64, f->size);
    resp.body = body;
    resp.body_len = sizeof body - 1;
    return http_send(req, &resp);
}

static int send_file(http_request *req, const static_file *f, int fd)
{
    http_response resp;
    http_response_init(&resp, 200);
    if (not_modified(req, f)) {
        resp.status = 304;
        resp.no_body = true;
        resp.fixed_headers = f->headers + f->type_line_len;
        resp.fixed_len = f->headers_len - f->type_line_len;
        return http_send(req, &resp);
    }

    uint64_t start = 0, len = f->size;
    const char *range = req->method_id == HTTP_GET ? http_header_get(req, "Range") : NULL;
    if (range != NULL && if_range_matches(req, f)) {
        int r = rt_parse_range(range, f->size, &start, &len);
        if (r < 0)
            return send_416(req, f);
        if (r > 0) {
            resp.status = 206;
            http_response_add_header(&resp, "Content-Range",
                                     "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64,
                                     start, start + len - 1, f->size);
        }
    }
    resp.fixed_headers = f->headers;
    resp.fixed_len = f->headers_len;
    if (f->data != NULL) {
        resp.body = f->data + start;
        resp.body_len = (size_t)len;
    } else {
        resp.file_fd = fd;
        resp.file_off = (off_t)start;
        resp.file_len = (size_t)len;
    }
    return http_send(req, &resp);
}

/* Percent-encodes a decoded path for a Location header; false if it does
 * not fit. Keeps the characters RFC 3986 allows in a path unencoded. */
static bool encode_path(const char *path, char *out, size_t out_size)
{
    static const char safe[] = "-._~!$&'()*+,;=:@/";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || strchr(safe, *p) != NULL;
        if (o + (plain ? 1 : 3) >= out_size)
            return false;
        if (plain)
            out[o++] = (char)*p;
        else
            o += (size_t)snprintf(out + o, out_size - o, "%%%02X", *p);
    }
    out[o] = '\0';
    return true;
}

/* 301 from "/dir" to "/dir/", keeping the query string. */
static int send_directory_redirect(http_request *req, const char *path)
{
    static const char body[] = "301 Moved Permanently\n";
    char location[1024];
    if (!encode_path(path, location, sizeof location - 1))
        return http_send_error(req, 414);
    strcat(location, "/");
    http_response resp;
    http_response_init(&resp, 301);
    resp.content_type = "text/plain; charset=utf-8";
    if (http_response_add_header(&resp, "Location", "%s%s%s", location,
                                 req->query[0] ? "?" : "", req->query) != 0)
        return http_send_error(req, 414);
    resp.body = body;
    resp.body_len = sizeof body - 1;
    return http_send(req, &resp);
}

/* True if a segment of path starts with ".." ("/..foo/x"); path.c has
 * already removed every ".." segment itself. */
static bool has_dotdot_name(const char *path)
{
    return strstr(path, "/..") != NULL;
}

/* ------------------------------------------------------------------ */
/* Entry points                                                        */
/* ------------------------------------------------------------------ */

void rt_static_init(const char *doc_root)
{
    if (realpath(doc_root, root) == NULL) {
        srv_log(SRV_LOG_ERROR, 0, "static: document root %s: %s", doc_root,
                strerror(errno));
        root_len = 0;
        return;
    }
    root_len = strlen(root);
}

int rt_static_serve(http_request *req, const char *path)
{
    if (root_len == 0 || has_dotdot_name(path))
        return http_send_error(req, 404);

    int fd = -1;
    static_file *f = cache_lookup(path);
    if (f != NULL && !static_file_is_fresh(f, &fd)) {
        static_file_release(f);
        f = NULL;
    }
    if (f == NULL) {
        int status = static_file_load(req, path, &f, &fd);
        if (status == 301)
            return send_directory_redirect(req, path);
        if (status != 0)
            return http_send_error(req, status);
    }
    int result = send_file(req, f, fd);
    if (fd >= 0)
        close(fd);
    static_file_release(f);
    return result;
}
