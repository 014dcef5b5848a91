/*
 * test_cgi.c - unit tests for CGI/1.1 support: parsing a script's header
 * block (router/cgi_parse.c), choosing the script for a name
 * (router/cgi.c), the meta-variables (router/cgi_env.c) and running real
 * /bin/sh scripts (router/cgi_run.c): output, stdin, timeout, reaping.
 */
#include "unit.h"
#include "../../router/router.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Parses a string literal copy; returns rt_cgi_parse_head's result. */
static int parse(const char *text, char *buf, size_t size, rt_cgi_head *head)
{
    const char *why = NULL;
    size_t len = strlen(text);
    CU_ASSERT_FATAL(len < size);
    memcpy(buf, text, len + 1);
    int rc = rt_cgi_parse_head(buf, len, head, &why);
    if (rc != 0)
        CU_ASSERT_PTR_NOT_NULL(why);
    return rc;
}

static void test_parse_ok(void)
{
    char buf[512];
    rt_cgi_head h;
    CU_ASSERT_EQUAL(parse("Content-Type: text/plain\r\n\r\nhi", buf, sizeof buf, &h), 0);
    CU_ASSERT_EQUAL(h.status, 200);
    CU_ASSERT_STRING_EQUAL(h.content_type, "text/plain");
    CU_ASSERT_STRING_EQUAL(buf + h.body_offset, "hi");

    /* Bare LF, Status with reason, extra headers with trimmed values. */
    CU_ASSERT_EQUAL(parse("Status: 404 Not Found\ncontent-type:text/html\n"
                          "X-One:  a b \t\nSet-Cookie: k=v\n\nbody", buf,
                          sizeof buf, &h), 0);
    CU_ASSERT_EQUAL(h.status, 404);
    CU_ASSERT_STRING_EQUAL(h.content_type, "text/html");
    CU_ASSERT_EQUAL(h.nheaders, 2);
    CU_ASSERT_STRING_EQUAL(h.headers[0].name, "X-One");
    CU_ASSERT_STRING_EQUAL(h.headers[0].value, "a b");
    CU_ASSERT_STRING_EQUAL(h.headers[1].name, "Set-Cookie");
    CU_ASSERT_STRING_EQUAL(buf + h.body_offset, "body");

    /* Location alone: a client redirect, 302, no body needed. */
    CU_ASSERT_EQUAL(parse("Location: http://example.com/\r\n\r\n", buf, sizeof buf, &h), 0);
    CU_ASSERT_EQUAL(h.status, 302);
    CU_ASSERT_STRING_EQUAL(h.location, "http://example.com/");
    CU_ASSERT_PTR_NULL(h.content_type);

    /* Status alone, no body (204). */
    CU_ASSERT_EQUAL(parse("Status: 204\r\n\r\n", buf, sizeof buf, &h), 0);
    CU_ASSERT_EQUAL(h.status, 204);
    CU_ASSERT_EQUAL(h.body_offset, strlen("Status: 204\r\n\r\n"));
}

static void test_parse_malformed(void)
{
    static const char *const bad[] = {
        "",                                           /* no output          */
        "hello world\n",                              /* not a header       */
        "Content-Type: text/plain\r\nbody",           /* no empty line      */
        "Content-Type: text/plain",                   /* no line end at all */
        "X-Only: 1\r\n\r\n",                          /* no CGI field       */
        "Status: 200\r\n\r\nbody",                    /* body, no type      */
        "Status: abc\r\nContent-Type: a/b\r\n\r\n",   /* bad status         */
        "Status: 99\r\nContent-Type: a/b\r\n\r\n",
        "Status: 2000\r\nContent-Type: a/b\r\n\r\n",
        "Status: 101 Switching\r\n\r\n",              /* not final          */
        "Status: 600\r\nContent-Type: a/b\r\n\r\n",
        "Status: 200\r\nStatus: 404\r\n\r\n",         /* duplicates         */
        "Content-Type: a/b\r\nContent-Type: c/d\r\n\r\n",
        "Content-Type: a/b\r\n folded\r\n\r\n",      /* obs-fold           */
        "Bad Name: x\r\nContent-Type: a/b\r\n\r\n",   /* space in name      */
        ": x\r\nContent-Type: a/b\r\n\r\n",           /* empty name         */
        "X: a\rb\r\nContent-Type: a/b\r\n\r\n",       /* CR in a value      */
        "Content-Type:\r\n\r\n",                      /* empty type         */
        "Location:\r\n\r\n",
    };
    char buf[512];
    rt_cgi_head h;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_EQUAL(parse(bad[i], buf, sizeof buf, &h), -1);

    /* A NUL byte inside the header block. */
    char nul[] = "Content-Type: a\0b\r\n\r\n";
    const char *why = NULL;
    CU_ASSERT_EQUAL(rt_cgi_parse_head(nul, sizeof nul - 1, &h, &why), -1);

    /* Too many header fields. */
    char many[RT_CGI_MAX_HEADERS * 16 + 64];
    size_t n = 0;
    for (int i = 0; i <= RT_CGI_MAX_HEADERS; i++)
        n += (size_t)sprintf(many + n, "X-%d: v\n", i);
    sprintf(many + n, "Content-Type: a/b\n\n");
    CU_ASSERT_EQUAL(rt_cgi_parse_head(many, strlen(many), &h, &why), -1);
}

static void test_header_rules(void)
{
    CU_ASSERT_TRUE(rt_header_name_valid("X-Custom_1"));
    CU_ASSERT_FALSE(rt_header_name_valid(""));
    CU_ASSERT_FALSE(rt_header_name_valid("X Custom"));
    CU_ASSERT_FALSE(rt_header_name_valid("X:"));
    CU_ASSERT_TRUE(rt_header_value_valid("a\tb c"));
    CU_ASSERT_FALSE(rt_header_value_valid("a\r\nSet-Cookie: x"));
    CU_ASSERT_FALSE(rt_header_value_valid("a\x7f"));
    CU_ASSERT_TRUE(rt_header_is_server_owned("content-length"));
    CU_ASSERT_TRUE(rt_header_is_server_owned("Transfer-Encoding"));
    CU_ASSERT_TRUE(rt_header_is_server_owned("Connection"));
    CU_ASSERT_FALSE(rt_header_is_server_owned("Set-Cookie"));
}

/* ---- scripts on disk ---- */

static char dir[PATH_MAX];

static void write_file(const char *name, const char *text, mode_t mode)
{
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static int suite_init(void)
{
    signal(SIGPIPE, SIG_IGN); /* as main.c does */
    snprintf(dir, sizeof dir, "/tmp/og-unit-cgi-XXXXXX");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int suite_cleanup(void)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_find_script(void)
{
    char out[PATH_MAX], want[PATH_MAX * 2], real[PATH_MAX];
    CU_ASSERT_PTR_NOT_NULL_FATAL(realpath(dir, real));
    write_file("app.so", "x", 0755);       /* a module, not a script */
    write_file("app.c", "x", 0755);
    write_file("app.txt", "x", 0644);      /* not executable */
    CU_ASSERT_EQUAL(rt_cgi_find_script(dir, "app", out, sizeof out), -1);
    write_file("app.sh", "#!/bin/sh\n", 0755);
    write_file("app.py", "#!/usr/bin/env python3\n", 0755);
    write_file("app.tar.gz", "x", 0755);   /* two extensions */
    write_file("apple.sh", "x", 0755);     /* another name */
    /* Both app.py and app.sh qualify: the first in byte order wins. */
    CU_ASSERT_EQUAL(rt_cgi_find_script(dir, "app", out, sizeof out), 0);
    snprintf(want, sizeof want, "%s/app.py", real);
    CU_ASSERT_STRING_EQUAL(out, want);
    CU_ASSERT_EQUAL(rt_cgi_find_script(dir, "ap", out, sizeof out), -1);
    CU_ASSERT_EQUAL(rt_cgi_find_script(dir, "..", out, sizeof out), -1);
    CU_ASSERT_EQUAL(rt_cgi_find_script(dir, "app/..", out, sizeof out), -1);
}

static void test_env(void)
{
    srv_conn conn = { .id = 7, .peer_port = 5555, .local_port = 8080 };
    strcpy(conn.peer_ip, "10.0.0.2");
    strcpy(conn.local_ip, "10.0.0.1");
    http_request req = {
        .method = "POST", .method_id = HTTP_POST, .path = "/env/a%20b",
        .query = "x=1&y", .version_minor = 1, .content_length = 5,
        .body = "hello", .body_len = 5, .conn = &conn,
        .nheaders = 7,
        .headers = { { "Host", "game.lan:8080" }, { "Content-Type", "text/plain" },
                     { "X-Multi", "a" }, { "x-multi", "b" },
                     { "Proxy", "http://evil" }, { "Authorization", "secret" },
                     { "X_Under", "smuggled" } },
    };
    rt_cgi_env env;
    CU_ASSERT_EQUAL_FATAL(rt_cgi_env_build(&env, &req, "env", "/a b"), 0);
    CU_ASSERT_STRING_EQUAL(rt_cgi_env_get(&env, "GATEWAY_INTERFACE"), "CGI/1.1");
    CU_ASSERT_STRING_EQUAL(rt_cgi_env_get(&env, "REQUEST_METHOD"), "POST");
    CU_ASSERT_STRING_EQUAL(rt_cgi_env_get(&env, "QUERY_STRING"), "x=1&y");
    CU_ASSERT_STRING_EQUAL(rt_cgi_env_get(&env, "SCRIPT_NAME"), "/env");
    CU_ASSERT_STRING_EQUAL(rt_cgi_env_get(&env, "PATH_INFO"), "/a b");
    CU_ASSERT_STRING_EQUAL(rt_cgi_env_get(&env, "CONTENT_LENGTH"), "5");
    CU_ASSERT_STRING_EQUAL(rt_cgi_env_get(&env, "CONTENT_TYPE"), "text/plain");
    CU_ASSERT_STRING_EQUAL(rt_cgi_env_get(&env, "SERVER_NAME"), "game.lan");
    CU_ASSERT_STRING_EQUAL(rt_cgi_env_get(&env, "SERVER_PORT"), "8080");
    CU_ASSERT_STRING_EQUAL(rt_cgi_env_get(&env, "SERVER_PROTOCOL"), "HTTP/1.1");
    CU_ASSERT_STRING_EQUAL(rt_cgi_env_get(&env, "REMOTE_ADDR"), "10.0.0.2");
    CU_ASSERT_STRING_EQUAL(rt_cgi_env_get(&env, "REMOTE_PORT"), "5555");
    CU_ASSERT_STRING_EQUAL(rt_cgi_env_get(&env, "HTTP_HOST"), "game.lan:8080");
    CU_ASSERT_STRING_EQUAL(rt_cgi_env_get(&env, "HTTP_X_MULTI"), "a, b");
    CU_ASSERT_STRING_EQUAL(rt_cgi_env_get(&env, "PATH"), "/usr/bin:/bin");
    CU_ASSERT_PTR_NULL(rt_cgi_env_get(&env, "HTTP_PROXY"));
    CU_ASSERT_PTR_NULL(rt_cgi_env_get(&env, "HTTP_AUTHORIZATION"));
    CU_ASSERT_PTR_NULL(rt_cgi_env_get(&env, "HTTP_X_UNDER"));
    CU_ASSERT_PTR_NULL(rt_cgi_env_get(&env, "HTTP_CONTENT_TYPE"));
    CU_ASSERT_PTR_NULL(rt_cgi_env_get(&env, "HOME")); /* nothing of ours */
    CU_ASSERT_PTR_NULL(env.vars[env.count]);
    rt_cgi_env_free(&env);

    /* GET without a body: no CONTENT_LENGTH, no PATH_INFO. */
    req.method = "GET";
    req.content_length = -1;
    req.body = "";
    req.body_len = 0;
    req.nheaders = 0;
    CU_ASSERT_EQUAL_FATAL(rt_cgi_env_build(&env, &req, "env", ""), 0);
    CU_ASSERT_PTR_NULL(rt_cgi_env_get(&env, "CONTENT_LENGTH"));
    CU_ASSERT_PTR_NULL(rt_cgi_env_get(&env, "PATH_INFO"));
    CU_ASSERT_STRING_EQUAL(rt_cgi_env_get(&env, "SERVER_NAME"), "10.0.0.1");
    rt_cgi_env_free(&env);
}

/* Runs dir/<name> with a small environment. */
static int run(const char *name, const char *body, int timeout_ms,
               rt_cgi_result *res)
{
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *envp[] = { "PATH=/usr/bin:/bin", "GREETING=hi", NULL };
    return rt_cgi_run(path, envp, body, strlen(body), timeout_ms, name, 0, res);
}

/* True if the process has no child left (nothing to reap, no zombie). */
static bool no_children(void)
{
    return waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD;
}

static void test_run_output_and_stdin(void)
{
    write_file("echo.sh", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\n"
               "echo \"$GREETING $(cat) $(pwd)\"\necho oops >&2\nexit 3\n", 0755);
    rt_cgi_result res;
    CU_ASSERT_EQUAL_FATAL(run("echo.sh", "from stdin", 5000, &res), 0);
    char want[PATH_MAX * 2], real[PATH_MAX];
    CU_ASSERT_PTR_NOT_NULL_FATAL(realpath(dir, real));
    snprintf(want, sizeof want, "Content-Type: text/plain\n\nhi from stdin %s\n", real);
    CU_ASSERT_STRING_EQUAL(res.out, want);
    CU_ASSERT_FALSE(res.timed_out);
    CU_ASSERT_TRUE(WIFEXITED(res.wait_status) && WEXITSTATUS(res.wait_status) == 3);
    CU_ASSERT_TRUE(no_children());
    free(res.out);
}

/* A script that never reads its stdin while we push a large body: the
 * poll loop must neither deadlock nor die of SIGPIPE. */
static void test_run_ignores_stdin(void)
{
    write_file("deaf.sh", "#!/bin/sh\nprintf 'Status: 204\\n\\n'\n", 0755);
    size_t big = 1 << 20;
    char *body = malloc(big + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(body);
    memset(body, 'b', big);
    body[big] = '\0';
    rt_cgi_result res;
    CU_ASSERT_EQUAL_FATAL(run("deaf.sh", body, 5000, &res), 0);
    CU_ASSERT_STRING_EQUAL(res.out, "Status: 204\n\n");
    CU_ASSERT_FALSE(res.timed_out);
    CU_ASSERT_TRUE(no_children());
    free(res.out);
    free(body);
}

/* True if pid runs. A killed orphan may stay a zombie until whoever
 * adopted it (init, or a container's first process) reaps it. */
static bool process_alive(int pid)
{
    char path[64], stat[256];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    size_t n = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[n] = '\0';
    const char *paren = strrchr(stat, ')'); /* "pid (comm) S ..." */
    return paren != NULL && paren[1] == ' ' && paren[2] != 'Z';
}

static void test_run_timeout_kills_group(void)
{
    /* The script starts a grandchild in its process group, then hangs. */
    write_file("slow.sh", "#!/bin/sh\nsleep 30 &\necho $! > grandchild.pid\n"
               "sleep 30\n", 0755);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rt_cgi_result res;
    CU_ASSERT_EQUAL_FATAL(run("slow.sh", "", 300, &res), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    CU_ASSERT_TRUE(res.timed_out);
    CU_ASSERT_TRUE(took >= 0.29 && took < 5);
    CU_ASSERT_TRUE(WIFSIGNALED(res.wait_status) && WTERMSIG(res.wait_status) == SIGKILL);
    CU_ASSERT_TRUE(no_children());
    /* The grandchild died with the group. */
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/grandchild.pid", dir);
    FILE *f = fopen(path, "r");
    int pid = 0;
    if (f != NULL) {
        CU_ASSERT_EQUAL(fscanf(f, "%d", &pid), 1);
        fclose(f);
    }
    CU_ASSERT_TRUE(pid > 0);
    for (int i = 0; i < 100 && pid > 0 && process_alive(pid); i++)
        usleep(10000);
    CU_ASSERT_TRUE(pid > 0 && !process_alive(pid));
    free(res.out);
}

static void test_run_not_executable(void)
{
    write_file("plain.txt", "hello", 0644);
    rt_cgi_result res;
    CU_ASSERT_EQUAL(run("plain.txt", "", 1000, &res), -1);
    CU_ASSERT_EQUAL(run("missing.sh", "", 1000, &res), -1);
    CU_ASSERT_TRUE(no_children());
}

UNIT_SUITE(cgi) {
    CU_pSuite s = CU_add_suite("cgi", suite_init, suite_cleanup);
    CU_add_test(s, "header block: valid", test_parse_ok);
    CU_add_test(s, "header block: malformed -> 502", test_parse_malformed);
    CU_add_test(s, "header name and value rules", test_header_rules);
    CU_add_test(s, "script resolution", test_find_script);
    CU_add_test(s, "meta-variables", test_env);
    CU_add_test(s, "run: stdout, stdin, stderr, exit", test_run_output_and_stdin);
    CU_add_test(s, "run: script ignoring a large body", test_run_ignores_stdin);
    CU_add_test(s, "run: timeout kills the group", test_run_timeout_kills_group);
    CU_add_test(s, "run: not startable", test_run_not_executable);
}
