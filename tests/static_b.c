/* The second private copy (see static_a.c). */
#define ATTNRES_STATIC
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include <string.h>

int static_b_status_is_named(void) {
    return strcmp(attnres_status_name(ATTNRES_ERR_NOMEM), "out of memory") == 0;
}
