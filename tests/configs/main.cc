#define CATCH_CONFIG_MAIN
// Wide enough that a failing corpus file's findings, printed as expect lines, do not wrap.
#define CATCH_CONFIG_CONSOLE_WIDTH 200
#include <catch2/catch.hpp>
