/* link_impl.c + link_user.c: two translation units include attnres.h, only
   this one defines ATTNRES_IMPLEMENTATION. If the header leaked a definition
   into the declaration half, linking the two would fail with duplicates. */
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include "check.h"

int user_side_argmax(void);   /* defined in link_user.c */

int main(void) {
    float x[3] = {1.0f, 3.0f, 2.0f};
    check(attnres_argmax(x, 3) == 1, "implementation file: attnres_argmax works");
    check(user_side_argmax() == 2, "declaration-only file: calls into the implementation link");
    return check_summary("test_link");
}
