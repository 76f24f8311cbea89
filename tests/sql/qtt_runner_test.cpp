// Runs the built `rivulet qtt` over ../shared/qtt/select.json when that
// folder exists: it must complete and print the closing summary line.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <regex>
#include <string>

TEST_CASE("qtt: the runner completes over select.json", "[sql][qtt]") {
  std::string file = std::string(RIVULET_SOURCE_DIR) + "/../shared/qtt/select.json";
  struct stat st;
  if (stat(file.c_str(), &st) != 0) {
    WARN("no " << file << ": skipped");
    return;
  }
  std::string cmd = std::string(RIVULET_BINARY_DIR) + "/bin/rivulet qtt " + file + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p);
  std::string out, last;
  char buf[4096];
  while (fgets(buf, sizeof buf, p)) {
    out += buf;
    last = buf;
  }
  int status = pclose(p);
  INFO(out);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) <= 1);  // 1: some case failed; not a crash
  CHECK(std::regex_match(last, std::regex(R"(\d+ passed, \d+ failed, \d+ skipped\n)")));
  CHECK(out.find("select.json :: ") != std::string::npos);
}
