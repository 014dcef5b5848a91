/*
 * main.c - online-game's entry point: read the settings, open the logs,
 * start the router, serve until SIGINT/SIGTERM, then clean up.
 *
 * Signals are handled by one thread that waits in sigwait(): it can do
 * ordinary work (reopen logs on SIGHUP, begin a shutdown on SIGTERM)
 * without the restrictions of a signal handler. Every other thread has
 * these signals blocked, so no system call is ever interrupted by them.
 * (SRV_WAKE_SIGNAL, which wakes WebSocket threads, is blocked too, and
 * let through only inside their ppoll: see conn.c.)
 */
#include "server.h"
#include "../router/router.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static sigset_t handled_signals;

static void *signal_thread(void *arg)
{
    (void)arg;
    for (;;) {
        int sig = 0;
        if (sigwait(&handled_signals, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            srv_log_reopen();
            continue;
        }
        srv_log(SRV_LOG_INFO, 0, "received %s: shutting down", strsignal(sig));
        srv_request_shutdown();
    }
    return NULL;
}

/* Blocks SIGINT, SIGTERM and SIGHUP in every thread (threads inherit the
 * mask) and starts the one thread that waits for them. */
static int start_signal_thread(void)
{
    pthread_t tid;
    sigemptyset(&handled_signals);
    sigaddset(&handled_signals, SIGINT);
    sigaddset(&handled_signals, SIGTERM);
    sigaddset(&handled_signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &handled_signals, NULL);
    srv_wake_setup(); /* blocks the wake-up signal, also inherited */
    signal(SIGPIPE, SIG_IGN); /* a vanished client is an error code, not a signal */
    if (pthread_create(&tid, NULL, signal_thread, NULL) != 0)
        return -1;
    pthread_detach(tid);
    return 0;
}

int main(int argc, char **argv)
{
    srv_config cfg;

    srv_config_defaults(&cfg);
    int rc = srv_config_parse(&cfg, argc, argv);
    if (rc == 1)
        return 0;
    if (rc != 0)
        return 2;
    srv_config_set(&cfg);

    if (srv_log_open(&cfg) < 0)
        return 1;
    if (start_signal_thread() < 0) {
        fprintf(stderr, "online-game: cannot start the signal thread\n");
        return 1;
    }
    if (rt_init(&cfg) < 0) {
        fprintf(stderr, "online-game: cannot start the router (see %s)\n", cfg.error_log);
        srv_log_close();
        return 1;
    }
    int code = srv_serve_forever(&cfg);
    /* Modules may be unloaded only when no request can still be in one. */
    if (srv_active_connections() == 0)
        rt_shutdown();
    srv_log_close();
    return code;
}
