// Fuzzing of the configuration loader (proxy/config.h): YAML text in, a Config or a
// ConfigError out. The loader is control plane, so throwing is its way to fail, but only
// ConfigError (what the reload path and --check-config catch, README "Configuration"):
// any other exception, a crash or a sanitizer report is a bug. A Config it accepts must
// also describe itself (--check-config) without failing.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

#include "proxy/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)cx::proxy::parseDuration(text);
  try {
    const cx::proxy::Config config = cx::proxy::parseConfig(text, "fuzz.yaml");
    (void)cx::proxy::describe(config);
  } catch (const cx::proxy::ConfigError& e) {
    if (std::string_view(e.what()).substr(0, 10) != "fuzz.yaml:") {
      std::fprintf(stderr, "fuzz_config: a ConfigError that does not name the source: %s\n", e.what());
      std::abort();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_config: undocumented exception: %s\n", e.what());
    std::abort();
  }
  return 0;
}
