/* The variables of a render from JSON: strings under messages[i]["content"] tagged
 * i + 1 (the provenance prep's loss mask comes from), everything else tag 0. */
#include "datasets/template/tpl_internal.h"

#include <string.h>

static tpl_val from_json(tpl_rt *rt, const json_t *j, uint32_t tag)
{
    switch (json_typeof(j)) {
    case JSON_STRING: return tpl_cstr(rt, json_string_value(j), json_string_length(j), tag);
    case JSON_INTEGER: return tpl_int((int64_t)json_integer_value(j));
    case JSON_REAL: return tpl_float(json_real_value(j));
    case JSON_TRUE: return tpl_bool(1);
    case JSON_FALSE: return tpl_bool(0);
    case JSON_NULL: return tpl_none();
    case JSON_ARRAY: {
        tpl_list *l = tpl_list_new(rt, (uint32_t)json_array_size(j));
        size_t i;
        const json_t *x;
        json_array_foreach((json_t *)j, i, x) tpl_list_push(rt, l, from_json(rt, x, tag));
        return tpl_listv(l, 0);
    }
    default: {
        tpl_dict *d = tpl_dict_new(rt, (uint32_t)json_object_size(j));
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)j, k, x)
        {
            tpl_val kv = tpl_cstr(rt, k, strlen(k), 0);
            d->k[d->n] = kv; /* JSON keys are unique */
            d->v[d->n] = from_json(rt, x, tag);
            if (++d->n == d->cap) {
                uint32_t cap = d->cap * 2;
                tpl_val *nk = tpl_alloc(rt, cap * sizeof *nk), *nv = tpl_alloc(rt, cap * sizeof *nv);
                memcpy(nk, d->k, d->n * sizeof *nk);
                memcpy(nv, d->v, d->n * sizeof *nv);
                d->k = nk;
                d->v = nv;
                d->cap = cap;
            }
        }
        tpl_val v = {.t = V_DICT};
        v.u.d = d;
        return v;
    }
    }
}

void tpl_bind_vars(tpl_rt *rt, json_t *vars)
{
    if (vars && json_is_object(vars)) {
        const char *k;
        json_t *v;
        json_object_foreach(vars, k, v)
        {
            tpl_val x;
            if (!strcmp(k, "messages") && json_is_array(v)) {
                tpl_list *l = tpl_list_new(rt, (uint32_t)json_array_size(v) + 1);
                size_t i;
                json_t *m;
                json_array_foreach(v, i, m)
                {
                    if (!json_is_object(m)) {
                        tpl_list_push(rt, l, from_json(rt, m, 0));
                        continue;
                    }
                    tpl_dict *d = tpl_dict_new(rt, (uint32_t)json_object_size(m) + 1);
                    const char *mk;
                    json_t *mv;
                    json_object_foreach(m, mk, mv)
                    {
                        uint32_t tag = !strcmp(mk, "content") ? (uint32_t)i + 1 : 0;
                        tpl_dict_set(rt, d, tpl_cstr(rt, mk, strlen(mk), 0),
                                     from_json(rt, mv, tag));
                    }
                    tpl_val dv = {.t = V_DICT};
                    dv.u.d = d;
                    tpl_list_push(rt, l, dv);
                }
                x = tpl_listv(l, 0);
            } else {
                x = from_json(rt, v, 0);
            }
            size_t kl = strlen(k);
            char *kc = tpl_alloc(rt, kl + 1);
            memcpy(kc, k, kl + 1);
            tpl_scope_set(rt, rt->top, kc, x);
        }
    }
}
