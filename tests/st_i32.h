/* st_i32.h - reading an I32 tensor (the token ids of the golden fixtures).
   The library reads only F32 weights, so this reader lives with the tests.
   Include after attnres.h with ATTNRES_IMPLEMENTATION: it uses the
   header's private safetensors types (attnres__st_*), as the tests do. */
#ifndef ST_I32_H
#define ST_I32_H

/* Copies t's elements into dst[count]; count must equal numel. */
static inline int st_read_i32(int32_t *dst, size_t count, const attnres__st_tensor *t, attnres_error *err) {
    size_t i;
    if (t->dtype != ATTNRES__DT_I32)
        return attnres__fail(err, ATTNRES_ERR_DTYPE, "tensor '%s' has dtype %s, expected I32", t->name, t->dtype_name);
    if ((uint64_t)count != t->numel)
        return attnres__fail(err, ATTNRES_ERR_SHAPE, "tensor '%s' has %llu elements, expected %zu",
                             t->name, (unsigned long long)t->numel, count);
    for (i = 0; i < count; i++) {
        uint32_t bits = attnres__le32(t->data + 4 * i);
        memcpy(&dst[i], &bits, sizeof bits);   /* two's complement bits */
    }
    return attnres__ok(err);
}

#endif
