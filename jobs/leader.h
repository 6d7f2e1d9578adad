/* SPDX-License-Identifier: MIT */
/* Leadership: a session advisory lock held on a dedicated connection,
 * taken with try-lock polling and checked every second. */
#ifndef DESKDB_JOBS_LEADER_H
#define DESKDB_JOBS_LEADER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/clock.h"
#include "core/err.h"

/* Followers try for the lock this often. */
#define LEADER_POLL_NS (2 * NS_PER_SEC)
/* The leader checks its connection this often ... */
#define LEADER_CHECK_NS (1 * NS_PER_SEC)
/* ... and any statement or connect on it must answer within this. */
#define LEADER_IO_TIMEOUT_NS (3 * NS_PER_SEC)
/* Reconnects after a failure back off from 1 s up to this. */
#define LEADER_RECONNECT_CAP_MS 30000

struct leader;

/*
 * A leader lock on `key` over connection string `conninfo` (copied,
 * never logged).  The connection is not pooled: session advisory locks
 * are re-entrant per session, so any pooled session would "hold" it.  It
 * carries client keepalives, tcp_user_timeout and the same keepalive
 * settings for the server's side of the socket, so that a vanished leader
 * loses the lock on the server within seconds rather than hours, and is
 * never inside a transaction (CREATE INDEX CONCURRENTLY waits for
 * transactions, and a session blocked in pg_advisory_lock() would make it
 * fail).  Touches nothing until leader_step().
 */
struct leader *leader_create(const char *conninfo,
                             int64_t key,
                             const struct clock *clock,
                             struct deskdb_err *err) DESKDB_MUSTCHECK;

/* Close the connection (the server releases the lock) and free. */
void leader_destroy(struct leader *l);

/*
 * Do what is due at monotonic time `now_ns`: connect (with backoff after
 * failures), try for the lock every LEADER_POLL_NS, or, holding it, check
 * the connection every LEADER_CHECK_NS.  Any failure or a check slower
 * than LEADER_IO_TIMEOUT_NS drops the connection and with it the lead, at
 * once.  Returns whether this process holds the lock.  Blocks at most
 * about LEADER_IO_TIMEOUT_NS (a connect: twice that).
 */
bool leader_step(struct leader *l, int64_t now_ns);

/* When leader_step() next has something to do (monotonic ns). */
int64_t leader_next_due(const struct leader *l);

/* Drop the connection now (shutdown): another instance can take over. */
void leader_release(struct leader *l);

bool leader_held(const struct leader *l);

#endif
