/* The one rule for tensor names, shared by the writer (names given by the
 * caller), the reader (names asked for and names found in a file). */
#include "checkpoint/checkpoint.h"

#include <string.h>

const char *yt_snap_tensor_name(const char *name)
{
    if (!name)
        return NULL;
    if (name[0] == '/')
        name++;
    size_t n = strlen(name);
    if (n == 0 || n > YT_SNAP_NAME_MAX)
        return NULL;
    const char *p = name;
    for (;;) {
        size_t len = strcspn(p, "/");
        if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            return NULL;
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7e)
                return NULL;
        p += len;
        if (*p == '\0')
            return name;
        p++; /* the '/' */
    }
}
