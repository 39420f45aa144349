/* UTF-8 code points without the render state: Python's str.isspace, which the
 * lexer's whitespace control and str.strip/split share. */
#include "datasets/template/tpl_internal.h"

/* Python's str.isspace for the code point at s[i] (length in *len). */
int tpl_is_space_at(const char *s, uint32_t n, uint32_t i, uint32_t *len)
{
    unsigned char b = (unsigned char)s[i];
    *len = 1;
    if (b < 0x80)
        return (b >= 9 && b <= 13) || (b >= 0x1c && b <= 0x20);
    uint32_t cp;
    if (b >= 0xC0 && b < 0xE0 && i + 1 < n) {
        cp = (uint32_t)(b & 0x1F) << 6 | ((unsigned char)s[i + 1] & 0x3F);
        *len = 2;
    } else if (b >= 0xE0 && b < 0xF0 && i + 2 < n) {
        cp = (uint32_t)(b & 0x0F) << 12 | (uint32_t)((unsigned char)s[i + 1] & 0x3F) << 6 |
             ((unsigned char)s[i + 2] & 0x3F);
        *len = 3;
    } else {
        *len = b >= 0xF0 ? 4 : 1;
        if (i + *len > n)
            *len = n - i;
        return 0;
    }
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}
