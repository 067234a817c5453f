#include "edge/server/metrics.h"

#include <chrono>

#include "absl/strings/str_format.h"

namespace holdfast::edge {

bool TakeLogSample(std::atomic<int64_t>& last) {
  constexpr int64_t kEveryNs = 1'000'000'000;
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  int64_t seen = last.load(std::memory_order_relaxed);
  return (seen == 0 || now - seen >= kEveryNs) &&
         last.compare_exchange_strong(seen, now, std::memory_order_relaxed);
}

void LatencyHistogram::Observe(absl::Duration d) {
  const double seconds = absl::ToDoubleSeconds(d);
  size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  Inc(buckets_[i]);
  Inc(count_);
  Inc(sum_micros_, static_cast<uint64_t>(absl::ToInt64Microseconds(d)));
}

void LatencyHistogram::Write(const std::string& name, const std::string& labels,
                             std::string& out) const {
  const std::string sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBounds.size(); ++i) {
    cumulative += Read(buckets_[i]);
    absl::StrAppendFormat(&out, "%s_bucket{%s%sle=\"%g\"} %d\n", name, labels, sep, kBounds[i],
                          cumulative);
  }
  cumulative += Read(buckets_[kBounds.size()]);
  absl::StrAppendFormat(&out, "%s_bucket{%s%sle=\"+Inf\"} %d\n", name, labels, sep, cumulative);
  absl::StrAppendFormat(&out, "%s_sum{%s} %.6f\n", name, labels,
                        static_cast<double>(Read(sum_micros_)) / 1e6);
  absl::StrAppendFormat(&out, "%s_count{%s} %d\n", name, labels, Read(count_));
}

ClusterMetrics* EdgeMetrics::Cluster(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  std::unique_ptr<ClusterMetrics>& m = clusters_[name];
  if (m == nullptr) m = std::make_unique<ClusterMetrics>();
  return m.get();
}

}  // namespace holdfast::edge
