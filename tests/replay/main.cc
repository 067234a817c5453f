// The Catch2 main of the incident replays.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
