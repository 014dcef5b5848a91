/*
 * test_config.c - unit tests for server/config.c: defaults, command-line
 * options, value checking, and the JSON config file with the command line
 * winning over it.
 */
#include "unit.h"
#include "../../server/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Runs srv_config_parse on a NULL-terminated argument list. */
static int parse_args(srv_config *cfg, const char **args)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)"online-game";
    for (; *args && argc < 31; args++)
        argv[argc++] = (char *)*args;
    argv[argc] = NULL;
    srv_config_defaults(cfg);
    /* Error messages go to stderr; keep the test output readable. */
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    int rc = srv_config_parse(cfg, argc, argv);
    fclose(stderr);
    stderr = saved;
    return rc;
}

static void test_defaults(void)
{
    srv_config cfg;
    const char *args[] = { NULL };
    CU_ASSERT_EQUAL(parse_args(&cfg, args), 0);
    CU_ASSERT_EQUAL(cfg.port, 8080);
    CU_ASSERT_STRING_EQUAL(cfg.root, "www");
    CU_ASSERT_STRING_EQUAL(cfg.cgi_dir, "cgi-bin");
    CU_ASSERT_STRING_EQUAL(cfg.access_log, "logs/access.log");
    CU_ASSERT(cfg.thread_stack <= 128 * 1024);
    CU_ASSERT_EQUAL(cfg.log_level, SRV_LOG_INFO);
}

static void test_options(void)
{
    srv_config cfg;
    const char *args[] = { "--port", "9000", "--root=/srv/www", "--header-timeout", "2.5",
                           "--max-body-size", "64K", "--log-level", "debug", NULL };
    CU_ASSERT_EQUAL(parse_args(&cfg, args), 0);
    CU_ASSERT_EQUAL(cfg.port, 9000);
    CU_ASSERT_STRING_EQUAL(cfg.root, "/srv/www");
    CU_ASSERT_EQUAL(cfg.header_timeout_ms, 2500);
    CU_ASSERT_EQUAL(cfg.max_body_bytes, 64 * 1024);
    CU_ASSERT_EQUAL(cfg.log_level, SRV_LOG_DEBUG);
}

static void test_bad_values(void)
{
    srv_config cfg;
    const char *unknown[] = { "--no-such-option", "1", NULL };
    const char *port_range[] = { "--port", "70000", NULL };
    const char *not_number[] = { "--max-conns", "many", NULL };
    const char *fraction[] = { "--max-conns", "1.5", NULL };
    const char *missing[] = { "--port", NULL };
    const char *bad_level[] = { "--log-level", "loud", NULL };
    const char *bad_suffix[] = { "--max-body-size", "12Q", NULL };
    const char *stray[] = { "www", NULL };
    CU_ASSERT_EQUAL(parse_args(&cfg, unknown), 2);
    CU_ASSERT_EQUAL(parse_args(&cfg, port_range), 2);
    CU_ASSERT_EQUAL(parse_args(&cfg, not_number), 2);
    CU_ASSERT_EQUAL(parse_args(&cfg, fraction), 2);
    CU_ASSERT_EQUAL(parse_args(&cfg, missing), 2);
    CU_ASSERT_EQUAL(parse_args(&cfg, bad_level), 2);
    CU_ASSERT_EQUAL(parse_args(&cfg, bad_suffix), 2);
    CU_ASSERT_EQUAL(parse_args(&cfg, stray), 2);
}

static char *write_temp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/og-config-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    if (write(fd, text, strlen(text)) < 0)
        path[0] = '\0';
    close(fd);
    return path;
}

static void test_json_file(void)
{
    srv_config cfg;
    char *path = write_temp("{\"port\": 9100, \"root\": \"public\", \"keepalive-timeout\": 3}");
    CU_ASSERT_PTR_NOT_NULL_FATAL(path);
    const char *args[] = { "--config", path, "--port", "9200", NULL };
    CU_ASSERT_EQUAL(parse_args(&cfg, args), 0);
    CU_ASSERT_EQUAL(cfg.port, 9200); /* the command line wins */
    CU_ASSERT_STRING_EQUAL(cfg.root, "public");
    CU_ASSERT_EQUAL(cfg.keepalive_timeout_ms, 3000);
    unlink(path);
}

static void test_json_errors(void)
{
    srv_config cfg;
    const char *texts[] = { "{\"port\": ", "[1, 2]", "{\"colour\": \"red\"}",
                            "{\"port\": \"eighty\"}", "{\"port\": [80]}" };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        char *path = write_temp(texts[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(path);
        const char *args[] = { "--config", path, NULL };
        CU_ASSERT_EQUAL(parse_args(&cfg, args), 2);
        unlink(path);
    }
    const char *missing[] = { "--config", "/nonexistent/og.json", NULL };
    CU_ASSERT_EQUAL(parse_args(&cfg, missing), 2);
}

UNIT_SUITE(config)
{
    CU_pSuite s = CU_add_suite("config", NULL, NULL);
    CU_add_test(s, "defaults", test_defaults);
    CU_add_test(s, "options and units", test_options);
    CU_add_test(s, "bad options exit 2", test_bad_values);
    CU_add_test(s, "JSON file, command line wins", test_json_file);
    CU_add_test(s, "JSON file errors", test_json_errors);
}
