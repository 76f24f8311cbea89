#pragma once
// A fresh directory under TMPDIR (or /tmp), removed with everything in it
// when the object goes.
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace rivulet::testing {

class TempDir {
 public:
  // `prefix` names the directory: <TMPDIR>/<prefix>-XXXXXX.
  explicit TempDir(const std::string& prefix = "rivulet-test") {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/" + prefix + "-XXXXXX";
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A fresh directory like TempDir's, removed when the test binary exits: for
// helpers that hand out a path (an Application's state.dir) whose use ends
// with the test case or later.
inline std::string scratch_dir(const std::string& prefix = "rivulet-test") {
  static std::vector<std::unique_ptr<TempDir>> dirs;
  dirs.push_back(std::make_unique<TempDir>(prefix));
  return dirs.back()->path();
}

// Writes `text` to `path` (replacing the file), bytes as they are.
inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  REQUIRE(out.good());
}

}  // namespace rivulet::testing
