// The floor of the central invariant (DESIGN.md): at least
// max(min_pops, ceil(min_fraction * eligible_pops)) POPs announce each prefix and serve each
// service name. This file is the one place that resolves and computes it.
#ifndef HOLDFAST_POLICY_SAFETY_FLOOR_H_
#define HOLDFAST_POLICY_SAFETY_FLOOR_H_

#include <cstdint>

#include "holdfast/v1/config.pb.h"

namespace holdfast::policy {

struct EffectiveFloor {
  uint32_t min_pops = 0;
  double min_fraction = 0;
  bool allow_zero = false;
};

// Resolves a floor field by field: `own` (may be null) first, then the fleet default.
EffectiveFloor ResolveFloor(const v1::Floor* own, const v1::DefaultFloor& fleet_default);

// The floor of one of `config`'s prefixes or service names.
EffectiveFloor PrefixFloor(const v1::Config& config, const v1::Prefix& prefix);
EffectiveFloor ServiceFloor(const v1::Config& config, const v1::ServiceName& service);

// max(min_pops, ceil(min_fraction * eligible_pops)). A fraction that should land on a whole
// number (0.5 * 4) does, despite binary floating point.
uint32_t FloorCount(const EffectiveFloor& floor, uint32_t eligible_pops);

}  // namespace holdfast::policy

#endif  // HOLDFAST_POLICY_SAFETY_FLOOR_H_
