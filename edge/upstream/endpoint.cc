#include "edge/upstream/endpoint.h"

#include <string_view>
#include <unordered_set>

#include "absl/strings/str_cat.h"

namespace holdfast::edge {

absl::Status ValidateEndpoints(std::span<const Endpoint> endpoints) {
  std::unordered_set<std::string_view> seen;
  seen.reserve(endpoints.size());
  for (size_t i = 0; i < endpoints.size(); ++i) {
    const Endpoint& endpoint = endpoints[i];
    if (endpoint.key.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("endpoint ", i, ": empty key"));
    }
    if (endpoint.weight < kMinEndpointWeight || endpoint.weight > kMaxEndpointWeight) {
      return absl::InvalidArgumentError(
          absl::StrCat("endpoint ", i, " (", endpoint.key, "): weight ", endpoint.weight,
                       " not in [", kMinEndpointWeight, ", ", kMaxEndpointWeight, "]"));
    }
    // Two entries with one key would get identical Maglev permutations and split one
    // endpoint's share between two indices: always a config mistake.
    if (!seen.insert(endpoint.key).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("endpoint ", i, " (", endpoint.key, "): duplicate key"));
    }
  }
  return absl::OkStatus();
}

}  // namespace holdfast::edge
