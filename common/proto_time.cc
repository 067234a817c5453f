#include "common/proto_time.h"

#include <cstdint>

namespace holdfast {
namespace {

// google/protobuf/timestamp.proto: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.
constexpr int64_t kMinTimestampSeconds = -62'135'596'800;
constexpr int64_t kMaxTimestampSeconds = 253'402'300'799;
// google/protobuf/duration.proto: about +-10,000 years.
constexpr int64_t kMaxDurationSeconds = 315'576'000'000;
constexpr int32_t kMaxNanos = 999'999'999;

}  // namespace

absl::Time FromProtoTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

absl::Duration FromProtoDuration(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

google::protobuf::Timestamp ToProtoTimestamp(absl::Time t) {
  google::protobuf::Timestamp out;
  if (t < absl::FromUnixSeconds(kMinTimestampSeconds)) {
    out.set_seconds(kMinTimestampSeconds);
    return out;
  }
  if (t >= absl::FromUnixSeconds(kMaxTimestampSeconds + 1)) {
    out.set_seconds(kMaxTimestampSeconds);
    out.set_nanos(kMaxNanos);
    return out;
  }
  // ToUnixSeconds rounds towards the past, so the nanos are in [0, 1e9) before 1970 too, as
  // Timestamp requires (a truncating split would give 1969 negative nanos).
  const int64_t seconds = absl::ToUnixSeconds(t);
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
  return out;
}

google::protobuf::Duration ToProtoDuration(absl::Duration d) {
  google::protobuf::Duration out;
  if (d >= absl::Seconds(kMaxDurationSeconds + 1)) {
    out.set_seconds(kMaxDurationSeconds);
    out.set_nanos(kMaxNanos);
    return out;
  }
  if (d <= absl::Seconds(-kMaxDurationSeconds - 1)) {
    out.set_seconds(-kMaxDurationSeconds);
    out.set_nanos(-kMaxNanos);
    return out;
  }
  // Both fields carry the sign of the whole (Duration requires it): ToInt64Seconds truncates
  // towards zero, so the remainder has the same sign.
  const int64_t seconds = absl::ToInt64Seconds(d);
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(d - absl::Seconds(seconds))));
  return out;
}

}  // namespace holdfast
