# The warning set every deskdb target compiles with (see STYLE.md, "Build").
add_library(deskdb_warnings INTERFACE)
target_compile_options(deskdb_warnings INTERFACE
    -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
    -Wformat=2 -Wformat-security -Wpointer-arith -Wwrite-strings -Wvla
    -Wimplicit-fallthrough -Wundef -Wno-unused-parameter)
