# cmake -DIN=<file> -DOUT=<file.c> -DSYMBOL=<name> -P embed_binary.cmake
# Embeds a binary file as `const unsigned char SYMBOL[]` and `const size_t SYMBOL_len`.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE ${OUT}.tmp "/* Generated from ${IN} by cmake/embed_binary.cmake. Do not edit. */\n#include <stddef.h>\n"
     "const unsigned char ${SYMBOL}[] = {${bytes} 0x00};\nconst size_t ${SYMBOL}_len = ${len};\n")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
