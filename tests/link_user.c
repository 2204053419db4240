/* The declaration half only (see link_impl.c). */
#include "../attnres.h"

int user_side_argmax(void) {
    float x[4] = {0.0f, 1.0f, 5.0f, 5.0f};
    return attnres_argmax(x, 4);
}
