# Warnings for the project's own targets (hf_warnings); generated protobuf code is built without.
add_library(hf_warnings INTERFACE)
target_compile_options(hf_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Wunused -Woverloaded-virtual -Wimplicit-fallthrough -Wformat=2)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(hf_warnings INTERFACE -Wduplicated-cond -Wlogical-op)
endif()
if(HF_WERROR)
  target_compile_options(hf_warnings INTERFACE -Werror)
endif()
