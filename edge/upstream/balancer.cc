#include "edge/upstream/balancer.h"

namespace holdfast::edge {

std::optional<size_t> EffectiveAvoid(const PickRequest& request) {
  // A retry to the same endpoint beats no retry at all, so the avoid hint yields when the
  // avoided endpoint is the only choice; an avoid that is not eligible changes nothing.
  if (!request.avoid.has_value() || request.eligibility.size() < 2 ||
      !request.eligibility.Contains(*request.avoid)) {
    return std::nullopt;
  }
  return request.avoid;
}

}  // namespace holdfast::edge
