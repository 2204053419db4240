/* static_a.c + static_b.c: both compile the whole implementation with
   ATTNRES_STATIC. Linking them together only works if every symbol of the
   library is private; the Makefile also checks with nm that neither object
   exports an attnres_ symbol. */
#define ATTNRES_STATIC
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include "check.h"

int static_b_status_is_named(void);   /* static_b.c */

int main(void) {
    check(strcmp(attnres_status_name(ATTNRES_ERR_RANGE), "out of range") == 0, "ATTNRES_STATIC: first private copy works");
    check(static_b_status_is_named(), "ATTNRES_STATIC: second private copy links beside it");
    return check_summary("test_static");
}
