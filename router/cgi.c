/*
 * cgi.c - CGI/1.1 scripts (RFC 3875): GET /env/x -> cgi-bin/env.sh with
 * PATH_INFO=/x, when no route module cgi-bin/env.so answered.
 *
 *   rt_cgi_find_script  which file in cgi-bin/ runs for a name
 *   cgi_env.c           the meta-variables (its environment)
 *   cgi_run.c           the process: spawn, pipes, deadline, reap
 *   cgi_parse.c         its output's header block
 * and this file turns the outcome into the HTTP response:
 *   could not start -> 500; timeout -> 504; output too large, malformed
 *   or without Content-Type/Location/Status -> 502; else the script's
 *   Status (or 302 with Location, or 200), its headers and its body.
 * The reasons go to the error log, never to the client.
 */
#include "router.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *cgi_dir(void)
{
    const srv_config *cfg = srv_cfg();
    return cfg != NULL && cfg->cgi_dir[0] != '\0' ? cfg->cgi_dir : "cgi-bin";
}

/* True if ext is a plain extension of a script, not of a module's build
 * products or documentation. */
static bool script_extension(const char *ext)
{
    static const char *const not_scripts[] = { "so", "c", "h", "o", "d", "md" };
    if (ext[0] == '\0')
        return false;
    for (const char *p = ext; *p; p++) {
        char ch = *p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9')))
            return false;
    }
    for (size_t i = 0; i < sizeof not_scripts / sizeof not_scripts[0]; i++)
        if (strcmp(ext, not_scripts[i]) == 0)
            return false;
    return true;
}

/* True if dir/file is an executable regular file inside dir; real gets
 * its real path. */
static bool runnable(const char *dir, const char *file, char *real,
                     size_t real_size)
{
    return rt_resolve_in_dir(dir, file, real, real_size) == 0 &&
           access(real, X_OK) == 0;
}

int rt_cgi_find_script(const char *dir, const char *name, char *out,
                       size_t out_size)
{
    if (!rt_name_is_valid(name))
        return -1;
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    size_t name_len = strlen(name);
    char best[NAME_MAX + 1] = "", real[PATH_MAX];
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *f = e->d_name;
        if (strncmp(f, name, name_len) != 0 || f[name_len] != '.' ||
            !script_extension(f + name_len + 1))
            continue;
        if ((best[0] == '\0' || strcmp(f, best) < 0) &&
            runnable(dir, f, real, sizeof real))
            snprintf(best, sizeof best, "%s", f);
    }
    closedir(d);
    if (best[0] == '\0' || !runnable(dir, best, real, sizeof real) ||
        strlen(real) >= out_size)
        return -1;
    strcpy(out, real);
    return 0;
}

static void log_exit(const rt_cgi_result *res, const char *name,
                     uint64_t conn_id)
{
    int st = res->wait_status;
    if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) != 0)
        srv_log(SRV_LOG_WARN, conn_id, "cgi %s: exited with status %d", name,
                WEXITSTATUS(st));
    else if (st != -1 && WIFSIGNALED(st) && !res->timed_out && !res->too_big)
        srv_log(SRV_LOG_WARN, conn_id, "cgi %s: killed by signal %d", name,
                WTERMSIG(st));
}

/* Sends the script's output as the response, or 502 if it is malformed. */
static int send_output(http_request *req, const char *name, char *out,
                       size_t len, uint64_t conn_id)
{
    rt_cgi_head head;
    const char *why = NULL;
    if (rt_cgi_parse_head(out, len, &head, &why) != 0) {
        srv_log(SRV_LOG_ERROR, conn_id, "cgi %s: malformed output: %s", name, why);
        return http_send_error(req, 502);
    }
    http_response resp;
    http_response_init(&resp, head.status);
    resp.content_type = head.content_type;
    int rc = 0;
    if (head.location != NULL)
        rc |= http_response_add_header(&resp, "Location", "%s", head.location);
    for (int i = 0; i < head.nheaders; i++)
        if (!rt_header_is_server_owned(head.headers[i].name))
            rc |= http_response_add_header(&resp, head.headers[i].name, "%s",
                                           head.headers[i].value);
    if (rc != 0) {
        srv_log(SRV_LOG_ERROR, conn_id, "cgi %s: headers too large", name);
        return http_send_error(req, 502);
    }
    if (head.status == 204 || head.status == 304) {
        resp.no_body = true;
        resp.content_type = NULL;
    } else {
        resp.body = out + head.body_offset;
        resp.body_len = len - head.body_offset;
    }
    return http_send(req, &resp);
}

static int respond(http_request *req, const char *name, rt_cgi_result *res,
                   uint64_t conn_id, int timeout_ms)
{
    log_exit(res, name, conn_id);
    if (res->timed_out) {
        srv_log(SRV_LOG_ERROR, conn_id, "cgi %s: killed after the %d ms "
                "timeout", name, timeout_ms);
        return http_send_error(req, 504);
    }
    if (res->too_big || res->out == NULL) {
        srv_log(SRV_LOG_ERROR, conn_id, "cgi %s: output larger than %u bytes "
                "(or out of memory)", name, RT_CGI_MAX_OUTPUT);
        return http_send_error(req, 502);
    }
    return send_output(req, name, res->out, res->out_len, conn_id);
}

int rt_cgi_try(http_request *req, const char *name, const char *path_info)
{
    char script[PATH_MAX];
    if (rt_cgi_find_script(cgi_dir(), name, script, sizeof script) != 0)
        return RT_DECLINED;
    uint64_t conn_id = req->conn ? req->conn->id : 0;
    const srv_config *cfg = srv_cfg();
    int timeout_ms = cfg != NULL && cfg->cgi_timeout_ms > 0 ? cfg->cgi_timeout_ms
                                                            : 10000;
    rt_cgi_env env;
    if (rt_cgi_env_build(&env, req, name, path_info) != 0) {
        srv_log(SRV_LOG_ERROR, conn_id, "cgi %s: out of memory", name);
        return http_send_error(req, 500);
    }
    rt_cgi_result res;
    int started = rt_cgi_run(script, env.vars, req->body, req->body ? req->body_len : 0,
                             timeout_ms, name, conn_id, &res);
    rt_cgi_env_free(&env);
    if (started != 0)
        return http_send_error(req, 500);
    int rc = respond(req, name, &res, conn_id, timeout_ms);
    free(res.out);
    return rc;
}
