// absl::Time to and from google.protobuf.Timestamp, for the control plane's records.
#ifndef HOLDFAST_CONTROL_PLANE_INTERNAL_PROTO_TIME_H_
#define HOLDFAST_CONTROL_PLANE_INTERNAL_PROTO_TIME_H_

#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"

namespace holdfast::control::internal {

inline google::protobuf::Timestamp ToProto(absl::Time t) {
  return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

inline absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixMicros(google::protobuf::util::TimeUtil::TimestampToMicroseconds(t));
}

inline absl::Duration FromProto(const google::protobuf::Duration& d) {
  return absl::Microseconds(google::protobuf::util::TimeUtil::DurationToMicroseconds(d));
}

}  // namespace holdfast::control::internal

#endif  // HOLDFAST_CONTROL_PLANE_INTERNAL_PROTO_TIME_H_
