/* signals.h — graceful stop on SIGINT / SIGTERM for the training loop: the first signal
 * only sets a flag (the loop polls it between steps, writes a checkpoint and exits
 * cleanly); a second one of either kind gets the default action (immediate exit), so a
 * stuck run can still be interrupted. Lightning's counterpart is its SIGTERM/KeyboardInterrupt
 * handling in Trainer.fit (no checkpoint on interrupt there).
 *
 *     lm_signals_install();
 *     while (...) { step(); if (lm_signals_pending()) { save(); break; } }
 *     lm_signals_restore();
 * Process-wide; install once. */
#ifndef LM_SIGNALS_H
#define LM_SIGNALS_H

/* Installs the handlers (SA_RESTART, so interrupted I/O resumes), clearing the flag. */
int lm_signals_install(void);
/* The first signal received since install/clear (SIGINT or SIGTERM), or 0. */
int lm_signals_pending(void);
/* Forgets a received signal (the next one is again "first"). */
void lm_signals_clear(void);
/* Puts the handlers that were there before install back. */
void lm_signals_restore(void);

#endif
