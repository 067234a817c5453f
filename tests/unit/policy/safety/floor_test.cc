#include "policy/safety/floor.h"

#include <catch2/catch.hpp>

namespace holdfast::policy {
namespace {

TEST_CASE("the floor is max(min_pops, ceil(min_fraction * eligible))", "[policy][safety]") {
  auto [min_pops, fraction, eligible, expected] =
      GENERATE(table<uint32_t, double, uint32_t, uint32_t>({
          {1, 0.5, 3, 2},
          {2, 0.5, 3, 2},
          {3, 0.5, 3, 3},
          {1, 0.5, 4, 2},   // exactly half: no rounding up past 2
          {0, 0.1, 30, 3},  // 0.1 * 30 is 3.0000000000000004 in binary floating point
          {0, 0.3, 10, 3},
          {0, 0.34, 3, 2},
          {0, 0.0, 5, 0},
          {0, 1.0, 7, 7},
          {5, 0.0, 2, 5},  // more than there are: the validator reports it
          {1, 0.5, 0, 1},
      }));
  CHECK(FloorCount(EffectiveFloor{min_pops, fraction, false}, eligible) == expected);
}

TEST_CASE("a floor takes each unset field from the fleet default", "[policy][safety]") {
  v1::DefaultFloor fleet;
  fleet.set_min_pops(2);
  fleet.set_min_fraction(0.5);

  const EffectiveFloor inherited = ResolveFloor(nullptr, fleet);
  CHECK(inherited.min_pops == 2);
  CHECK(inherited.min_fraction == 0.5);
  CHECK_FALSE(inherited.allow_zero);

  v1::Floor own;
  own.set_min_pops(0);  // set to zero explicitly: not the default
  own.set_allow_zero(true);
  const EffectiveFloor mixed = ResolveFloor(&own, fleet);
  CHECK(mixed.min_pops == 0);
  CHECK(mixed.min_fraction == 0.5);
  CHECK(mixed.allow_zero);
}

}  // namespace
}  // namespace holdfast::policy
