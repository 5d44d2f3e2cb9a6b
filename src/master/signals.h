/*
 * signals: stop requests from SIGTERM, SIGINT, SIGUSR1 and SIGUSR2.
 *
 * The handlers only record the request (volatile sig_atomic_t); the
 * generation loop polls signals_stop_requested() at generation boundaries,
 * finishes the generation, checkpoints and exits 0.
 *
 * A second signal while a stop is pending ends the process at once with
 * 128 + signal number (the last checkpoint stays valid: checkpoints are
 * written atomically) -- unless it arrives within SIGNALS_REPEAT_SECONDS of
 * the first.  Such a quick repeat is almost always the same request
 * delivered twice (SLURM signals the job's processes and the job script
 * forwards the signal too; `scancel --full`), not a user insisting, so it
 * is ignored.
 */
#ifndef RANDES_SIGNALS_H
#define RANDES_SIGNALS_H

#define SIGNALS_REPEAT_SECONDS 2

/* Installs the handlers (sigaction, SA_RESTART).  Called before MPI starts,
 * so that a signal during start-up is a stop request, not a kill. */
void signals_install(void);

/* Nonzero once a stop signal has arrived; the value is the signal number. */
int signals_stop_requested(void);

/* For tests and for the sweep: forget a pending request. */
void signals_reset(void);

#endif
