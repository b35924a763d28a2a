// Rule selection cost per lookup, linear first match vs the index, for `make bench-curves`:
// CPU time per lookup does not depend on what else the machine runs, unlike req/s.
// Usage: rule_lookup [RULES ...]   (default 2 100 1000 10000)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "routing/rules.h"

namespace {

double nsPerCall(auto&& fn, int calls) {
  timespec a{}, b{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
  for (int i = 0; i < calls; ++i) fn(i);
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
  return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / calls;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> counts;
  for (int i = 1; i < argc; ++i) counts.push_back(std::atoi(argv[i]));
  if (counts.empty()) counts = {2, 100, 1000, 10000};
  const std::vector<std::string> keys = {"bench:key", "tenant1:42:profile", "tenant99999:1:profile"};
  std::printf("rules\tindex_build_ms\tkey\tlinear_ns\tindex_ns\n");
  volatile const void* sink = nullptr;
  for (int n : counts) {
    std::vector<cx::routing::Rule> rules(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      rules[static_cast<std::size_t>(i)].name = "tenant" + std::to_string(i);
      rules[static_cast<std::size_t>(i)].keyGlobs = {"tenant" + std::to_string(i) + ":*:profile"};
    }
    const auto t0 = std::chrono::steady_clock::now();
    cx::routing::RuleList list{std::vector<cx::routing::Rule>(rules)};
    const double buildMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    for (const auto& key : keys) {
      const int linearCalls = n >= 1000 ? 2000 : 200000;
      const double linear =
          nsPerCall([&](int) { sink = cx::routing::matchRule(list.rules(), key, "GET"); }, linearCalls);
      const double index = nsPerCall([&](int) { sink = list.match(key, "GET"); }, 1000000);
      std::printf("%d\t%.2f\t%s\t%.0f\t%.0f\n", n, buildMs, key.c_str(), linear, index);
    }
  }
  (void)sink;
}
