// How long the planner takes on a large fleet: 200 POPs (10 nodes each, 2,000 nodes' reports),
// 2,000 prefixes each announced by 20 POPs, 500 service names of 4 prefixes each. Some POPs are
// unhealthy, one is broken, one drain is in force; each plan is fed the one before (steady
// state). Sizes are flags. The last line is the result, for scripts:
//
//   plan 200 pops: N ms        (N: the median plan, in milliseconds with one decimal)
//
// Usage: plan_bench [--pops N] [--prefixes N] [--services N] [--plans N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "holdfast/v1/config.pb.h"
#include "holdfast/v1/plan.pb.h"
#include "policy/plan/planner.h"

namespace holdfast::bench {
namespace {

struct Sizes {
  int pops = 200;
  int nodes_per_pop = 10;
  int prefixes = 2000;
  int pops_per_prefix = 20;
  int services = 500;
  int prefixes_per_service = 4;
  int plans = 20;
};

v1::Config MakeFleet(const Sizes& s) {
  v1::Config c;
  c.mutable_safety()->mutable_default_floor()->set_min_pops(2);
  c.mutable_safety()->mutable_default_floor()->set_min_fraction(0.5);
  c.mutable_safety()->mutable_withdrawal_rate()->set_max_withdrawals(2);
  c.mutable_safety()->mutable_withdrawal_rate()->mutable_window()->set_seconds(300);
  c.mutable_safety()->mutable_correlated_failure()->set_fraction(0.3);
  c.mutable_safety()->mutable_correlated_failure()->mutable_window()->set_seconds(120);
  v1::HealthPolicy* h = c.mutable_safety()->mutable_health();
  h->mutable_stale_after()->set_seconds(30);
  h->set_min_healthy_fraction(0.5);
  h->set_withdraw_after(3);
  h->set_restore_after(3);
  h->set_shared_fault_fraction(0.5);
  for (int i = 0; i < s.prefixes; ++i) {
    v1::Prefix* p = c.add_prefixes();
    p->set_name(absl::StrCat("p", i));
    p->set_cidr(absl::StrFormat("10.%d.%d.0/24", i / 256, i % 256));
    p->mutable_on_unhealthy()->set_kind(i % 5 == 0 ? v1::UnhealthyAction::KIND_DEPREFER
                                                   : v1::UnhealthyAction::KIND_WITHDRAW);
    p->mutable_on_unhealthy()->set_as_path_prepend(3);
  }
  for (int i = 0; i < s.pops; ++i) {
    v1::Pop* pop = c.add_pops();
    pop->set_name(absl::StrCat("pop", i));
    pop->set_region(absl::StrCat("r", i % 8));
    pop->set_capacity_weight(100 + i % 7);
    pop->set_preference(100);
    for (int n = 0; n < s.nodes_per_pop; ++n) {
      pop->add_nodes()->set_name(absl::StrCat("pop", i, "-", n));
    }
  }
  // Prefix i is announced by pops_per_prefix POPs starting at a stride, so each POP carries
  // prefixes * pops_per_prefix / pops of them.
  for (int i = 0; i < s.prefixes; ++i) {
    for (int k = 0; k < s.pops_per_prefix; ++k) {
      const int pop = (i * 7 + k * (s.pops / s.pops_per_prefix)) % s.pops;
      v1::Announcement* an = c.mutable_pops(pop)->add_announce();
      an->set_prefix(absl::StrCat("p", i));
      an->add_vips(absl::StrFormat("10.%d.%d.%d", i / 256, i % 256, k + 1));
    }
  }
  for (int i = 0; i < s.services; ++i) {
    v1::ServiceName* svc = c.mutable_dns()->add_services();
    svc->set_name(absl::StrCat("s", i, ".example.net."));
    for (int k = 0; k < s.prefixes_per_service; ++k) {
      svc->add_prefixes(absl::StrCat("p", (i * s.prefixes_per_service + k) % s.prefixes));
    }
  }
  return c;
}

std::vector<v1::HealthReport> Reports(const v1::Config& c, absl::Time now) {
  std::vector<v1::HealthReport> out;
  const int64_t seconds = absl::ToUnixSeconds(now);
  for (int i = 0; i < c.pops_size(); ++i) {
    const v1::Pop& pop = c.pops(i);
    for (const v1::Node& node : pop.nodes()) {
      if (i % 50 == 3) continue;  // a few POPs stopped reporting
      v1::HealthReport& r = out.emplace_back();
      r.set_pop(pop.name());
      r.set_node(node.name());
      r.mutable_at()->set_seconds(seconds);
      r.mutable_received_at()->set_seconds(seconds);
      r.set_listeners_up(i % 50 != 7);  // a few are broken
      for (int k = 0; k < 5; ++k) {
        v1::ClusterHealth* ch = r.add_clusters();
        ch->set_cluster(absl::StrCat("c", k));
        ch->set_total_endpoints(10);
        ch->set_healthy_endpoints(i % 25 == 11 ? 2 : 10);  // a few cannot reach backends
      }
    }
  }
  return out;
}

int Main(int argc, char** argv) {
  Sizes s;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    int* target = flag == "--pops"       ? &s.pops
                  : flag == "--prefixes" ? &s.prefixes
                  : flag == "--services" ? &s.services
                  : flag == "--plans"    ? &s.plans
                                         : nullptr;
    if (target == nullptr || !absl::SimpleAtoi(argv[i + 1], target) || *target < 1) {
      std::fprintf(stderr,
                   "usage: plan_bench [--pops N] [--prefixes N] [--services N] [--plans N]\n");
      return 2;
    }
  }
  s.pops_per_prefix = std::min(s.pops_per_prefix, s.pops);
  const v1::Config config = MakeFleet(s);
  std::vector<v1::OperatorIntent> intents(1);
  intents[0].set_action(v1::OperatorIntent::ACTION_DRAIN);
  intents[0].set_pop("pop1");
  intents[0].set_reason("bench");

  absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  v1::Plan previous;
  std::vector<double> ms;
  size_t reports = 0;
  for (int i = 0; i < s.plans; ++i) {
    now += absl::Seconds(10);
    policy::PlanInput in;
    in.config = &config;
    in.reports = Reports(config, now);
    reports = in.reports.size();
    in.intents = intents;
    in.previous = i == 0 ? nullptr : &previous;
    in.now = now;
    const auto start = std::chrono::steady_clock::now();
    v1::Plan plan = policy::MakePlan(in);
    const auto end = std::chrono::steady_clock::now();
    ms.push_back(std::chrono::duration<double, std::milli>(end - start).count());
    previous = std::move(plan);
  }
  size_t decisions = 0;
  for (const auto& pp : previous.prefixes()) decisions += static_cast<size_t>(pp.pops_size());
  std::sort(ms.begin(), ms.end());
  std::printf("fleet: %d POPs, %zu reports, %d prefixes, %zu POP decisions, %d service names\n",
              s.pops, reports, s.prefixes, decisions, s.services);
  std::printf("last plan: %d alarms, frozen=%s\n", previous.alarms_size(),
              previous.frozen() ? "yes" : "no");
  std::printf("min %.1f ms, median %.1f ms, max %.1f ms over %d plans\n", ms.front(),
              ms[ms.size() / 2], ms.back(), s.plans);
  std::printf("plan %d pops: %.1f ms\n", s.pops, ms[ms.size() / 2]);
  return 0;
}

}  // namespace
}  // namespace holdfast::bench

int main(int argc, char** argv) { return holdfast::bench::Main(argc, argv); }
