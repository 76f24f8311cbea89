// The planner fuzzer's seed corpus (sql/fuzz/planner_corpus/), replayed
// through its harness in `make test`: every seed must still plan a
// persistent query and run over the harness' records, so that the corpus
// keeps reaching the planner and the operators (a seed that stopped
// planning would leave the fuzzer at the front end), and none may crash.
// The libFuzzer target itself needs Clang (make fuzz).
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "sql/fuzz/planner_harness.hpp"

TEST_CASE("planner fuzz corpus: every seed plans and runs", "[sql][fuzz]") {
  const std::filesystem::path dir =
      std::filesystem::path(RIVULET_SOURCE_DIR) / "sql" / "fuzz" / "planner_corpus";
  size_t seeds = 0, outputs = 0, errors = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    INFO(entry.path().filename().string() << ": " << text.str());
    auto run = rivulet::sql::fuzz::run_planner_input(text.str());
    CHECK(run.planned);
    CHECK(run.outputs > 0);
    outputs += run.outputs;
    errors += run.data_errors;
    ++seeds;
  }
  CHECK(seeds >= 18);
  // Every seed reads S or a table; the record of S that is not JSON is a
  // data error for the seeds that read S.
  CHECK(errors > 0);
  CHECK(outputs > seeds);
}
