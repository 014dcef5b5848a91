/*
 * module.c - route modules: cgi-bin/<name>.so loaded with dlopen, cached,
 * and hot-reloaded when the file changes.
 *
 * GET /hello/x -> rt_module_try(req, "hello", "/x") -> cgi-bin/hello.so's
 * online_game_module.handle() (the interface is router/route.h; the
 * request and response objects are built in module_api.c).
 *
 * The cache. Each name has a slot; a slot points at the version of the
 * module currently served. A version is one dlopen'd copy of the file,
 * identified by the file's (device, inode, size, mtime). Every request
 * stat()s the file:
 *   - same identity: reuse the cached version;
 *   - new identity: load the new file; requests already running keep the
 *     old version, which is closed (fini, dlclose) when the last of them
 *     releases it - reference counts, never under a running handler;
 *   - file gone: the slot forgets its version; the request is declined
 *     (so it falls through to CGI and static files: usually 404);
 *   - a version that failed to load is remembered by its identity, so a
 *     broken file costs one error log line, not one per request.
 * A file changed less than SETTLE_MS ago may still be being written: the
 * linker rewrites a .so in place during `make`. If it fails to load, the
 * load is retried (every RETRY_MS at most) until the file has settled,
 * and meanwhile the version already loaded, if any, keeps answering.
 * One mutex guards the cache. It is held only to look up and update the
 * slots and reference counts - never while loading or running a module.
 * A thread that finds another one loading the same name waits on a
 * condition variable instead of loading a second copy.
 *
 * Why a private copy. dlopen("cgi-bin/hello.so") a second time returns
 * the handle already open for that path (glibc matches loaded objects by
 * name, then by device and inode), so the new version would never load
 * while the old one is in use. And `cp new.so hello.so` rewrites the
 * inode that the old version is executing from. So each version is
 * copied to a unique name in a private directory, dlopen'd from there,
 * and the copy is unlinked at once: the mapping keeps it alive, and
 * nothing is left behind (unless the server dies inside dlopen itself;
 * the empty directory is removed at exit).
 * The directory (mkdtemp, mode 0700) is made next to the cgi dir, as
 * .online-game-modules.XXXXXX: the cgi dir's filesystem must allow
 * executing files (CGI scripts run from it), where /tmp is often mounted
 * noexec. If that parent is not writable, $TMPDIR or /tmp is used.
 * The copy is checked first (module_elf.c): a truncated file would make
 * dlopen itself crash the server.
 * (dlopen of "/proc/self/fd/N" was rejected: N is reused, so the name can
 * match an older handle.)
 */
#include "router.h"
#include "route.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Which file a version was loaded from. */
typedef struct file_id {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} file_id;

/* One loaded copy of a module file. */
typedef struct version {
    void *handle;
    const rt_module *mod;
    char name[RT_NAME_MAX + 1];
    file_id id;
    int refs; /* cache_lock: 1 while current in its slot, +1 per request */
} version;

/* What the cache knows about one name. */
typedef struct slot {
    struct slot *next;
    char name[RT_NAME_MAX + 1];
    version *current;     /* NULL: nothing loaded         */
    bool loading;         /* a thread is loading the file */
    bool failed;          /* failed_id could not be loaded */
    bool failed_declined; /* ... and is to be declined, not a 500 */
    file_id failed_id;
    int64_t failed_at_ms; /* when it failed (wall clock, like mtime) */
} slot;

#define SETTLE_MS 1000
#define RETRY_MS 100

/* The outcome of finding the version for a request. */
enum acquired { ACQ_OK, ACQ_DECLINED, ACQ_BROKEN };

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cache_changed = PTHREAD_COND_INITIALIZER;
static slot *slots;

static pthread_mutex_t private_dir_lock = PTHREAD_MUTEX_INITIALIZER;
static char private_dir[PATH_MAX];
static atomic_ulong copy_counter;

static const char *cgi_dir(void)
{
    const srv_config *cfg = srv_cfg();
    return cfg != NULL && cfg->cgi_dir[0] != '\0' ? cfg->cgi_dir : "cgi-bin";
}

static file_id file_id_of(const struct stat *st)
{
    return (file_id){ .dev = st->st_dev, .ino = st->st_ino,
                      .size = st->st_size, .mtime = st->st_mtim };
}

static int64_t wall_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* How long before `at` the file was last modified. */
static int64_t file_age_ms(const file_id *id, int64_t at)
{
    return at - ((int64_t)id->mtime.tv_sec * 1000 + id->mtime.tv_nsec / 1000000);
}

static bool file_id_equal(const file_id *a, const file_id *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec &&
           a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* ---- methods ---- */

bool rt_methods_valid(const char *methods)
{
    if (methods == NULL)
        return true;
    bool any = false;
    for (const char *p = methods; *p; p++) {
        char ch = *p;
        bool token = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                     (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
        if (!token && ch != ',' && ch != ' ')
            return false;
        any = any || token;
    }
    return any;
}

/* True if the comma/space separated list holds exactly `word`. */
static bool list_has(const char *list, const char *word)
{
    size_t len = strlen(word);
    for (const char *p = list; *p;) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t n = strcspn(p, ", ");
        if (n == len && n > 0 && strncmp(p, word, n) == 0)
            return true;
        p += n;
    }
    return false;
}

bool rt_methods_allow(const char *methods, const char *method)
{
    if (methods == NULL)
        return true;
    return list_has(methods, method) ||
           (strcmp(method, "HEAD") == 0 && list_has(methods, "GET"));
}

/* ---- loading one version ---- */

/* private_dir_lock held: makes private_dir "<parent>/.online-game-
 * modules.XXXXXX" (mkdtemp: a fresh name, mode 0700). Static buffers, not
 * the stack: a connection thread's stack may be as small as 32 KiB. */
static bool make_private_dir(const char *parent)
{
    int n = snprintf(private_dir, sizeof private_dir, "%s/.online-game-modules.XXXXXX",
                     parent);
    if (n > 0 && (size_t)n < sizeof private_dir && mkdtemp(private_dir) != NULL)
        return true;
    private_dir[0] = '\0';
    return false;
}

/* Creates the private directory for copies once: next to the cgi dir,
 * else in $TMPDIR or /tmp. Returns it, or "" if both failed. */
static const char *copies_dir(void)
{
    static char parent[PATH_MAX];
    pthread_mutex_lock(&private_dir_lock);
    if (private_dir[0] == '\0') {
        const char *tmp = getenv("TMPDIR");
        snprintf(parent, sizeof parent, "%s", cgi_dir());
        if (make_private_dir(dirname(parent)) ||
            make_private_dir(tmp != NULL && tmp[0] == '/' ? tmp : "/tmp"))
            srv_log(SRV_LOG_INFO, 0, "modules: private copies go to %s", private_dir);
        else
            srv_log(SRV_LOG_ERROR, 0, "modules: cannot create a private directory beside "
                    "%s or in %s: %s", cgi_dir(), tmp != NULL ? tmp : "/tmp", strerror(errno));
    }
    pthread_mutex_unlock(&private_dir_lock);
    return private_dir;
}

/* Copies the open file src_fd to a new file `to`, in the kernel
 * (sendfile: no buffer on this thread's small stack). Returns the copy's
 * descriptor (read-write), or -1 with errno. */
static int copy_file(int src_fd, const char *to)
{
    int out = open(to, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
    if (out < 0)
        return -1;
    off_t offset = 0;
    for (;;) {
        ssize_t n = sendfile(out, src_fd, &offset, 1 << 30);
        if (n == 0)
            return out;
        if (n < 0 && errno != EINTR) {
            int saved = errno;
            close(out);
            errno = saved;
            return -1;
        }
    }
}

/* Copies the module to `copy`, checks the copy and dlopens it. */
static void *load_copy(int src_fd, const char *copy, char *why, size_t why_size)
{
    int fd = copy_file(src_fd, copy);
    if (fd < 0) {
        snprintf(why, why_size, "cannot copy it: %s", strerror(errno));
        return NULL;
    }
    int checked = rt_module_elf_check(fd, why, why_size);
    close(fd);
    if (checked != 0)
        return NULL;
    void *handle = dlopen(copy, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL)
        snprintf(why, why_size, "dlopen failed: %s", dlerror());
    return handle;
}

/* The paths and the reason of one load, on the heap: a connection
 * thread's stack may be as small as 32 KiB, and dlopen needs some too. */
typedef struct load_work {
    char real[PATH_MAX]; /* the module file, resolved        */
    char copy[PATH_MAX]; /* its private copy                 */
    char why[512];       /* why it failed, for the log line  */
} load_work;

/* Opens w->real, records its identity and dlopens a private copy.
 * Returns the handle, or NULL with w->why set (a log-ready reason). */
static void *open_copy(const char *name, load_work *w, file_id *id)
{
    const char *dir = copies_dir();
    int fd = open(w->real, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(w->why, sizeof w->why, "cannot open: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    *id = file_id_of(&st);
    int n = snprintf(w->copy, sizeof w->copy, "%s/%s.%lu.so", dir, name,
                     atomic_fetch_add(&copy_counter, 1));
    void *handle = NULL;
    if (dir[0] == '\0' || n < 0 || (size_t)n >= sizeof w->copy) {
        snprintf(w->why, sizeof w->why, "no private directory for copies");
    } else {
        handle = load_copy(fd, w->copy, w->why, sizeof w->why);
        unlink(w->copy);
    }
    close(fd);
    return handle;
}

/* True if the symbol at addr is data at least as large as an rt_module:
 * a function or an `int online_game_module` must not be read as one.
 * (ELF32_ST_TYPE is the same macro for 64-bit symbols.) */
static bool symbol_is_descriptor(const void *addr)
{
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    if (dladdr1(addr, &info, (void **)&sym, RTLD_DL_SYMENT) == 0 || sym == NULL)
        return false;
    return ELF32_ST_TYPE(sym->st_info) == STT_OBJECT &&
           sym->st_size >= sizeof(rt_module);
}

/* Checks the exported descriptor; NULL with *why if it is unusable. */
static const rt_module *check_descriptor(void *handle, char *why,
                                         size_t why_size)
{
    const rt_module *mod = dlsym(handle, RT_MODULE_SYMBOL);
    if (mod == NULL)
        snprintf(why, why_size, "no symbol %s", RT_MODULE_SYMBOL);
    else if (!symbol_is_descriptor(mod))
        snprintf(why, why_size, "%s is not an rt_module", RT_MODULE_SYMBOL);
    else if (mod->abi_version != RT_ABI_VERSION)
        snprintf(why, why_size, "ABI version %d, the server needs %d",
                 mod->abi_version, RT_ABI_VERSION);
    else if (mod->handle == NULL)
        snprintf(why, why_size, "no handle function");
    else if (!rt_methods_valid(mod->methods))
        snprintf(why, why_size, "malformed .methods list");
    else if (mod->init != NULL && mod->init() != 0)
        snprintf(why, why_size, "init() failed");
    else
        return mod;
    return NULL;
}

/* Loads cgi-bin/<name>.so. On failure returns NULL, logs the reason and
 * sets *declined when the request should fall through (file missing or
 * outside cgi-bin) rather than get a 500. *id gets the file's identity. */
static version *load_version(const char *name, uint64_t conn_id, file_id *id,
                             bool *declined)
{
    char file[RT_NAME_MAX + 8];
    snprintf(file, sizeof file, "%s.so", name);
    *declined = true;
    load_work *w = malloc(sizeof *w);
    if (w == NULL) {
        *declined = false;
        srv_log(SRV_LOG_ERROR, conn_id, "module %s: out of memory", name);
        return NULL;
    }
    if (rt_resolve_in_dir(cgi_dir(), file, w->real, sizeof w->real) != 0) {
        if (errno != ENOENT)
            srv_log(SRV_LOG_WARN, conn_id, "module %s: not loaded: %s (outside %s "
                    "or not a regular file)", name, strerror(errno), cgi_dir());
        free(w);
        return NULL;
    }
    *declined = false;
    version *v = calloc(1, sizeof *v);
    void *handle = v ? open_copy(name, w, id) : NULL;
    const rt_module *mod = handle ? check_descriptor(handle, w->why, sizeof w->why) : NULL;
    if (mod == NULL) {
        bool settled = file_age_ms(id, wall_ms()) >= SETTLE_MS;
        srv_log(settled ? SRV_LOG_ERROR : SRV_LOG_WARN, conn_id,
                "module %s: cannot load %s%s: %s", name, w->real,
                settled ? "" : " yet (just changed, will retry)",
                v ? w->why : "out of memory");
        if (handle != NULL)
            dlclose(handle);
        free(v);
        free(w);
        return NULL;
    }
    v->handle = handle;
    v->mod = mod;
    v->id = *id;
    snprintf(v->name, sizeof v->name, "%s", name);
    srv_log(SRV_LOG_INFO, conn_id, "module %s: loaded %s (inode %llu)", name, w->real,
            (unsigned long long)id->ino);
    free(w);
    return v;
}

/* Runs fini and unloads; called once the last reference is gone. */
static void close_version(version *v)
{
    if (v->mod->fini != NULL)
        v->mod->fini();
    dlclose(v->handle);
    srv_log(SRV_LOG_INFO, 0, "module %s: unloaded (inode %llu)", v->name,
            (unsigned long long)v->id.ino);
    free(v);
}

/* ---- the cache ---- */

/* Drops one reference; the last one closes the version (unlocked). */
static void release(version *v)
{
    pthread_mutex_lock(&cache_lock);
    bool last = --v->refs == 0;
    pthread_mutex_unlock(&cache_lock);
    if (last)
        close_version(v);
}

/* cache_lock held. The slot for name, created if needed (NULL: no memory). */
static slot *find_slot(const char *name)
{
    for (slot *s = slots; s != NULL; s = s->next)
        if (strcmp(s->name, name) == 0)
            return s;
    slot *s = calloc(1, sizeof *s);
    if (s != NULL) {
        snprintf(s->name, sizeof s->name, "%s", name);
        s->next = slots;
        slots = s;
    }
    return s;
}

/* The file is gone: stop serving the old version. */
static void forget(const char *name)
{
    version *old = NULL;
    pthread_mutex_lock(&cache_lock);
    for (slot *s = slots; s != NULL; s = s->next) {
        if (strcmp(s->name, name) == 0) {
            old = s->current;
            s->current = NULL;
            s->failed = false;
        }
    }
    pthread_mutex_unlock(&cache_lock);
    if (old != NULL)
        release(old);
}

/* Loads name (this thread won the slot's `loading` flag) and publishes
 * the result. Returns the version to use, with a reference for the
 * caller (the old one if the new file failed but may be unfinished), or
 * NULL. */
static version *load_and_publish(slot *s, uint64_t conn_id, file_id id,
                                 bool *declined)
{
    version *fresh = load_version(s->name, conn_id, &id, declined);
    version *old = NULL;
    pthread_mutex_lock(&cache_lock);
    s->loading = false;
    if (fresh != NULL) {
        old = s->current;
        s->current = fresh;
        fresh->refs = 2; /* the slot's and ours */
        s->failed = false;
    } else {
        s->failed = true;
        s->failed_declined = *declined;
        s->failed_id = id;
        s->failed_at_ms = wall_ms();
        if (file_age_ms(&id, s->failed_at_ms) < SETTLE_MS && s->current != NULL) {
            fresh = s->current; /* still being written: keep the old one */
            fresh->refs++;
        }
    }
    pthread_cond_broadcast(&cache_changed);
    pthread_mutex_unlock(&cache_lock);
    if (old != NULL)
        release(old);
    return fresh;
}

/* cache_lock held: takes a reference on the slot's current version and
 * unlocks. */
static enum acquired use_current(slot *s, version **out)
{
    s->current->refs++;
    *out = s->current;
    pthread_mutex_unlock(&cache_lock);
    return ACQ_OK;
}

/* Finds the version to serve name with, loading it if needed. */
static enum acquired acquire(const char *name, uint64_t conn_id,
                             version **out)
{
    char *path = NULL; /* on the heap: see load_work */
    struct stat st;
    if (asprintf(&path, "%s/%s.so", cgi_dir(), name) < 0)
        path = NULL;
    bool found = path != NULL && stat(path, &st) == 0 && S_ISREG(st.st_mode);
    free(path);
    if (!found) {
        forget(name);
        return ACQ_DECLINED;
    }
    file_id id = file_id_of(&st);
    pthread_mutex_lock(&cache_lock);
    slot *s = find_slot(name);
    if (s == NULL) {
        pthread_mutex_unlock(&cache_lock);
        srv_log(SRV_LOG_ERROR, conn_id, "module %s: out of memory", name);
        return ACQ_BROKEN;
    }
    while (s->loading) /* another thread is loading it: use its result */
        pthread_cond_wait(&cache_changed, &cache_lock);
    if (s->current != NULL && file_id_equal(&s->current->id, &id))
        return use_current(s, out);
    if (s->failed && file_id_equal(&s->failed_id, &id)) {
        bool unsettled = file_age_ms(&id, s->failed_at_ms) < SETTLE_MS;
        bool retry = unsettled && wall_ms() - s->failed_at_ms >= RETRY_MS;
        if (unsettled && !retry && s->current != NULL)
            return use_current(s, out);
        if (!retry) {
            bool declined = s->failed_declined;
            pthread_mutex_unlock(&cache_lock);
            return declined ? ACQ_DECLINED : ACQ_BROKEN;
        }
    }
    s->loading = true;
    pthread_mutex_unlock(&cache_lock);
    bool declined;
    *out = load_and_publish(s, conn_id, id, &declined);
    if (*out != NULL)
        return ACQ_OK;
    return declined ? ACQ_DECLINED : ACQ_BROKEN;
}

/* ---- serving a request ---- */

static int run_handler(http_request *req, version *v, const char *path_info)
{
    uint64_t conn_id = req->conn ? req->conn->id : 0;
    if (!rt_methods_allow(v->mod->methods, req->method))
        return http_send_405(req, v->mod->methods);
    rt_call *call = rt_call_begin(req, path_info, v->name);
    if (call == NULL) {
        srv_log(SRV_LOG_ERROR, conn_id, "module %s: out of memory", v->name);
        return http_send_error(req, 500);
    }
    int result = v->mod->handle(rt_call_request(call), rt_call_response(call));
    int rc;
    if (result == RT_OK) {
        rc = rt_call_send(call);
    } else if (result == RT_DECLINED) {
        rc = RT_DECLINED;
    } else {
        srv_log(SRV_LOG_ERROR, conn_id, "module %s: handler failed (returned %d)",
                v->name, result);
        rc = http_send_error(req, 500);
    }
    rt_call_end(call);
    return rc;
}

int rt_module_try(http_request *req, const char *name, const char *path_info)
{
    if (!rt_name_is_valid(name))
        return RT_DECLINED;
    version *v = NULL;
    switch (acquire(name, req->conn ? req->conn->id : 0, &v)) {
    case ACQ_DECLINED:
        return RT_DECLINED;
    case ACQ_BROKEN:
        return http_send_error(req, 500);
    case ACQ_OK:
        break;
    }
    int rc = run_handler(req, v, path_info);
    release(v);
    return rc;
}

void rt_modules_unload_all(void)
{
    pthread_mutex_lock(&cache_lock);
    slot *all = slots;
    slots = NULL;
    pthread_mutex_unlock(&cache_lock);
    while (all != NULL) {
        slot *next = all->next;
        if (all->current != NULL)
            release(all->current);
        free(all);
        all = next;
    }
    pthread_mutex_lock(&private_dir_lock);
    if (private_dir[0] != '\0' && rmdir(private_dir) != 0)
        srv_log(SRV_LOG_WARN, 0, "modules: cannot remove %s: %s", private_dir,
                strerror(errno));
    private_dir[0] = '\0';
    pthread_mutex_unlock(&private_dir_lock);
}
