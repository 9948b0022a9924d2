/* startup_log.h — vdevd's log handler. While vdevd starts, the library's lines
 * are held back: when start-up fails, the one line saying why is all the user
 * sees (the held lines come out too at --log-level debug); when it succeeds,
 * they are printed as they would have been. */
#ifndef VDEVD_STARTUP_LOG_H
#define VDEVD_STARTUP_LOG_H

#include <stdbool.h>

/* Installs the handler, holding lines from now on. */
void vdevd_log_hold(void);
/* Stops holding; prints what was held when print is true, drops it otherwise. */
void vdevd_log_release(bool print);

#endif
