#include "common/proto_time.h"

#include <catch2/catch.hpp>
#include <cstdint>

namespace holdfast {
namespace {

TEST_CASE("a time round-trips through a Timestamp to the nanosecond", "[common][proto_time]") {
  const absl::Time t = GENERATE(absl::UnixEpoch(), absl::FromUnixNanos(1'700'000'000'123'456'789),
                                absl::FromUnixNanos(-1'500'000'001));
  const google::protobuf::Timestamp ts = ToProtoTimestamp(t);
  CHECK(ts.nanos() >= 0);
  CHECK(ts.nanos() < 1'000'000'000);
  CHECK(FromProtoTime(ts) == t);
}

TEST_CASE("a time before 1970 gets the past's seconds and positive nanos", "[common][proto_time]") {
  const google::protobuf::Timestamp ts = ToProtoTimestamp(absl::FromUnixMillis(-1'500));
  CHECK(ts.seconds() == -2);
  CHECK(ts.nanos() == 500'000'000);
}

TEST_CASE("a duration round-trips with both fields of one sign", "[common][proto_time]") {
  const absl::Duration d =
      GENERATE(absl::ZeroDuration(), absl::Milliseconds(1'500), absl::Nanoseconds(-2'000'000'001));
  const google::protobuf::Duration p = ToProtoDuration(d);
  const bool one_sign =
      (p.seconds() <= 0 && p.nanos() <= 0) || (p.seconds() >= 0 && p.nanos() >= 0);
  CHECK(one_sign);
  CHECK(FromProtoDuration(p) == d);
  CHECK(ToProtoDuration(absl::Milliseconds(-1'500)).nanos() == -500'000'000);
}

TEST_CASE("infinite times and durations clamp to what protobuf allows", "[common][proto_time]") {
  CHECK(ToProtoTimestamp(absl::InfiniteFuture()).seconds() == 253'402'300'799);
  CHECK(ToProtoTimestamp(absl::InfinitePast()).seconds() == -62'135'596'800);
  CHECK(ToProtoTimestamp(absl::InfinitePast()).nanos() == 0);
  CHECK(ToProtoDuration(absl::InfiniteDuration()).seconds() == 315'576'000'000);
  CHECK(ToProtoDuration(-absl::InfiniteDuration()).seconds() == -315'576'000'000);
}

}  // namespace
}  // namespace holdfast
