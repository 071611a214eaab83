# Strict warnings for every target in the project (STYLE.md 16).
# -Wsign-conversion is left out: in C it fires on every size_t/int mix in
# byte-level code without catching real bugs that -Wconversion misses.
add_compile_options(
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
  -Wstrict-prototypes -Wmissing-prototypes -Wold-style-definition
  -Wformat=2 -Wundef -Wcast-qual -Wwrite-strings -Wvla
  -Wimplicit-fallthrough -Wnull-dereference
  -fno-common)
if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
  add_compile_options(-Wduplicated-cond -Wlogical-op -Wjump-misses-init)
endif()
if(WERROR)
  add_compile_options(-Werror)
endif()
