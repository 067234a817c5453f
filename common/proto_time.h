// The one conversion between protobuf's well-known time types and Abseil's: a
// google.protobuf.Timestamp is an absl::Time, a google.protobuf.Duration an absl::Duration.
//
// Exact to the nanosecond both ways, for every value protobuf allows (Timestamp: years 1 to 9999;
// Duration: +-10,000 years), so a time survives a round trip through a plan, a report or the
// store unchanged. Values outside those ranges (absl::InfiniteFuture(), a corrupt message) are
// clamped to the nearest valid one rather than written as a message protobuf would reject.
// Pure functions: policy/ may use them.
#ifndef HOLDFAST_COMMON_PROTO_TIME_H_
#define HOLDFAST_COMMON_PROTO_TIME_H_

#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace holdfast {

absl::Time FromProtoTime(const google::protobuf::Timestamp& t);
absl::Duration FromProtoDuration(const google::protobuf::Duration& d);

google::protobuf::Timestamp ToProtoTimestamp(absl::Time t);
google::protobuf::Duration ToProtoDuration(absl::Duration d);

}  // namespace holdfast

#endif  // HOLDFAST_COMMON_PROTO_TIME_H_
