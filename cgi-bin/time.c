/*
 * time.c - a route module that tells the server's time, as JSON:
 *
 *   $ curl http://localhost:8080/time
 *   {"unix":1763706180.123,"iso":"2025-11-21T06:23:00.123Z","loaded_s":42.0}
 *
 * It also shows the optional init() hook: it records when the module was
 * loaded, so "loaded_s" restarts from zero each time the .so is rebuilt.
 * That start time is written once in init(), before any handle(), and
 * only read afterwards, so the many threads calling handle() share it
 * safely without a lock.
 */
#include "../router/route.h"

#include <jansson.h>
#include <stdio.h>
#include <time.h>

static struct timespec loaded_at; /* written once, by init() */

static int init(void)
{
    return clock_gettime(CLOCK_MONOTONIC, &loaded_at);
}

static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) +
           (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static int handle(const rt_request *req, rt_response *resp)
{
    (void)req;
    struct timespec now;
    struct tm tm;
    char iso[64];
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(iso + n, sizeof iso - n, ".%03ldZ", now.tv_nsec / 1000000);

    json_t *answer = json_pack("{s:f, s:s, s:f}",
        "unix", (double)now.tv_sec + (double)now.tv_nsec / 1e9,
        "iso", iso,
        "loaded_s", seconds_since(&loaded_at));
    if (answer == NULL)
        return RT_ERROR;
    resp->api->set_header(resp, "Cache-Control", "no-store");
    int rc = resp->api->json(resp, 200, answer);
    json_decref(answer);
    return rc == 0 ? RT_OK : RT_ERROR;
}

const rt_module online_game_module = {
    .abi_version = RT_ABI_VERSION,
    .name = "time",
    .methods = "GET",
    .init = init,
    .handle = handle,
};
