package readstore

/*
// SQLite's own declaration; the library is linked in by the driver.
extern int sqlite3_config(int, ...);

static int memstatus_off(void) {
	return sqlite3_config(9, 0); // SQLITE_CONFIG_MEMSTATUS, off
}
*/
import "C"

// memstatusRC is what turning SQLite's memory statistics off answered:
// 0 (SQLITE_OK), unless SQLite had started before this package's
// initialization, which the driver never does on its own.
//
// The setting is process-wide: it runs once, before any connection of
// either store opens. With the statistics on (SQLite's default), every
// allocation and free inside SQLite takes one global mutex; under 64
// concurrent creates the read store's writer, holding the store's one
// write slot, slept on that mutex behind readers and the event store's
// threads (a scheduler trace: pthread_mutex_lock from sqlite3Malloc and
// sqlite3_free), and its voluntary context switches fell from about
// 16,000 to 11,000 in 15 s with it off. Creates over HTTP, five
// alternating pairs: +0–17 % (3,792–4,985/s against 4,451–5,225/s).
// Nothing here reads the statistics.
var memstatusRC = int(C.memstatus_off())
