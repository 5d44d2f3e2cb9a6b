/*
 * signals: stop requests from SIGTERM, SIGINT, SIGUSR1 (and SIGUSR2).
 *
 * The handlers only store to a volatile sig_atomic_t; the generation loop
 * polls signals_stop_requested() at generation boundaries, finishes the
 * generation, checkpoints and exits 0.  A second signal while a stop is
 * pending ends the process at once with 128 + signal number (the previous
 * checkpoint stays valid: checkpoints are written atomically).
 */
#ifndef RANDES_SIGNALS_H
#define RANDES_SIGNALS_H

/* Installs the handlers (sigaction, SA_RESTART). */
void signals_install(void);

/* Nonzero once a stop signal has arrived; the value is the signal number. */
int signals_stop_requested(void);

/* For tests and for the sweep: forget a pending request. */
void signals_reset(void);

#endif
