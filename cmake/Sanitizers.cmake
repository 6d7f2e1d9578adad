# Sanitizer builds: ASan+UBSan for everything, TSan for the concurrent tests,
# and the fuzz build: libFuzzer coverage plus ASan+UBSan (clang only; the
# fuzz_* executables link -fsanitize=fuzzer, see tests/fuzz).
if(DESKDB_ASAN AND DESKDB_TSAN)
    message(FATAL_ERROR "DESKDB_ASAN and DESKDB_TSAN are mutually exclusive")
endif()
if(DESKDB_FUZZ)
    if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
        message(FATAL_ERROR "DESKDB_FUZZ needs clang (CC=clang; see scripts/fuzz)")
    endif()
    if(DESKDB_ASAN OR DESKDB_TSAN)
        message(FATAL_ERROR "DESKDB_FUZZ already includes ASan and UBSan")
    endif()
    add_compile_options(-fsanitize=fuzzer-no-link,address,undefined
                        -fno-omit-frame-pointer -fno-sanitize-recover=all)
    add_link_options(-fsanitize=address,undefined)
endif()
if(DESKDB_ASAN)
    add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                        -fno-sanitize-recover=all)
    add_link_options(-fsanitize=address,undefined)
endif()
if(DESKDB_TSAN)
    add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
    add_link_options(-fsanitize=thread)
endif()
