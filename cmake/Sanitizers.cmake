# Sanitizer builds: ASan+UBSan for everything, TSan for the concurrent tests.
if(DESKDB_ASAN AND DESKDB_TSAN)
    message(FATAL_ERROR "DESKDB_ASAN and DESKDB_TSAN are mutually exclusive")
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
