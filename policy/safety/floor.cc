#include "policy/safety/floor.h"

#include <algorithm>
#include <cmath>

namespace holdfast::policy {

EffectiveFloor ResolveFloor(const v1::Floor* own, const v1::DefaultFloor& fleet_default) {
  EffectiveFloor f{fleet_default.min_pops(), fleet_default.min_fraction(),
                   fleet_default.allow_zero()};
  if (own != nullptr) {
    if (own->has_min_pops()) f.min_pops = own->min_pops();
    if (own->has_min_fraction()) f.min_fraction = own->min_fraction();
    if (own->has_allow_zero()) f.allow_zero = own->allow_zero();
  }
  return f;
}

EffectiveFloor PrefixFloor(const v1::Config& config, const v1::Prefix& prefix) {
  return ResolveFloor(prefix.has_floor() ? &prefix.floor() : nullptr,
                      config.safety().default_floor());
}

EffectiveFloor ServiceFloor(const v1::Config& config, const v1::ServiceName& service) {
  return ResolveFloor(service.has_floor() ? &service.floor() : nullptr,
                      config.safety().default_floor());
}

uint32_t FloorCount(const EffectiveFloor& floor, uint32_t eligible_pops) {
  const double fraction = std::clamp(floor.min_fraction, 0.0, 1.0);
  // 1e-9 absorbs rounding: 0.1 * 30 is 3.0000000000000004, whose ceiling would be 4.
  const auto by_fraction =
      static_cast<uint32_t>(std::ceil(fraction * static_cast<double>(eligible_pops) - 1e-9));
  return std::max(floor.min_pops, by_fraction);
}

}  // namespace holdfast::policy
