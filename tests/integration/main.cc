// The Catch2 main of the integration tests.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
