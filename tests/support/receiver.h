/* SPDX-License-Identifier: MIT */
/* A webhook receiver on 127.0.0.1 for the notification tests: records
 * every POST with its headers and body and answers from a script (an
 * error status, 429 with Retry-After, or no answer at all). */
#ifndef DESKDB_TESTS_RECEIVER_H
#define DESKDB_TESTS_RECEIVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RECEIVER_MAX_REQUESTS 64
#define RECEIVER_MAX_SCRIPT   16

struct receiver_request {
    char path[128];
    char webhook_id[128];
    char webhook_timestamp[32];
    char webhook_signature[256];
    char content_type[64];
    char user_agent[64];
    char *body; /* NUL-terminated */
    size_t body_len;
    int64_t at_ms; /* CLOCK_MONOTONIC */
    int status;    /* what was answered; 0: held without an answer */
};

/* One scripted answer; when the script is used up the answer is 200. */
struct receiver_answer {
    int status;       /* 0: hang until the receiver stops (or 10 s) */
    int retry_after;  /* seconds for a Retry-After header, -1: none */
    size_t body_size; /* bytes of response body ("ok" when 0) */
};

struct receiver {
    struct MHD_Daemon *daemon;
    int port;
    char url[64]; /* http://127.0.0.1:PORT/hook */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct receiver_request req[RECEIVER_MAX_REQUESTS];
    size_t n;
    struct receiver_answer script[RECEIVER_MAX_SCRIPT];
    size_t n_script, next_answer;
    bool stopping;
};

/* Listen on 127.0.0.1 port 0; fails the test on error. */
void receiver_start(struct receiver *r);

/* Release held requests, stop and free the recorded bodies. */
void receiver_stop(struct receiver *r);

/* Append an answer to the script. */
void receiver_script(struct receiver *r, int status, int retry_after);

/* Append a 200 answer with a body of `size` bytes. */
void receiver_script_body(struct receiver *r, size_t size);

/* Wait until at least `n` requests were recorded (up to timeout_ms);
 * returns how many there are. */
size_t receiver_wait(struct receiver *r, size_t n, int timeout_ms);

/* Number of requests recorded so far. */
size_t receiver_count(struct receiver *r);

#endif
