// The directory store on a real file system: layout, retention, temporary
// file cleanup, fallback past damaged checkpoints, and the crash hooks in a
// child process that really dies by SIGKILL.
#include "checkpoint/directory_store.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using rivulet::CheckpointId;
using rivulet::Epoch;
using rivulet::ErrorKind;
using rivulet::Offset;
using rivulet::PartitionId;
using rivulet::TopicPartition;
using rivulet::checkpoint::checkpoint_file_name;
using rivulet::checkpoint::DirectoryStore;
using rivulet::checkpoint::parse_checkpoint_file_name;
using rivulet::checkpoint::Snapshot;
using rivulet::checkpoint::TaskId;

struct TempDir : rivulet::testing::TempDir {
  TempDir() : rivulet::testing::TempDir("rivulet-ckpt") {}
};

const TaskId kTask{"q1", PartitionId(3)};

Snapshot snapshot_for(const TaskId& task, int64_t id) {
  Snapshot s;
  s.task = task;
  s.id = CheckpointId(id);
  s.epoch = Epoch(1);
  s.stream_time = 1000 * id;
  s.created_at = 2000 * id;
  s.input_offsets[TopicPartition{"orders", task.partition}] = Offset(100 * id);
  s.sections.emplace_back("table", "state as of checkpoint " + std::to_string(id));
  return s;
}

std::unique_ptr<DirectoryStore> open_store(const std::string& root) {
  auto store = DirectoryStore::open(root);
  REQUIRE(store.ok());
  return std::move(*store);
}

std::vector<CheckpointId> ids(std::initializer_list<int64_t> values) {
  std::vector<CheckpointId> out;
  for (auto v : values) out.push_back(CheckpointId(v));
  return out;
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void overwrite(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

}  // namespace

TEST_CASE("checkpoint file names are zero padded and parsed strictly", "[checkpoint][directory]") {
  CHECK(checkpoint_file_name(CheckpointId(42)) == "00000000000000000042.ckpt");
  CHECK(parse_checkpoint_file_name("00000000000000000042.ckpt") == CheckpointId(42));
  CHECK(parse_checkpoint_file_name(checkpoint_file_name(CheckpointId(INT64_MAX))) ==
        CheckpointId(INT64_MAX));
  CHECK_FALSE(parse_checkpoint_file_name("99999999999999999999.ckpt"));  // beyond int64
  CHECK_FALSE(parse_checkpoint_file_name("00000000000000000042.ckpt.tmp.123"));
  CHECK_FALSE(parse_checkpoint_file_name("0000000000000000042.ckpt"));
  CHECK_FALSE(parse_checkpoint_file_name("0000000000000000004x.ckpt"));
  CHECK_FALSE(parse_checkpoint_file_name("-0000000000000000042.ckpt"));
  CHECK_FALSE(parse_checkpoint_file_name("00000000000000000042.ckpx"));
}

TEST_CASE("directory store: write, list newest first, read back", "[checkpoint][directory]") {
  TempDir dir;
  auto store = open_store(dir.path() + "/state");  // created on open
  CHECK(store->list(kTask)->empty());
  auto nothing = store->load_latest_valid(kTask);
  REQUIRE(nothing.ok());
  CHECK_FALSE(nothing->has_value());

  for (int64_t id : {1, 3, 2}) {
    auto written = store->write(snapshot_for(kTask, id));
    REQUIRE(written.ok());
    CHECK(*written == fs::file_size(store->file_path(kTask, CheckpointId(id))));
  }
  CHECK(files_in(store->task_dir(kTask)) == std::vector<std::string>{"00000000000000000001.ckpt",
                                                                     "00000000000000000002.ckpt",
                                                                     "00000000000000000003.ckpt"});
  CHECK(store->task_dir(kTask) == dir.path() + "/state/q1-3");
  CHECK(*store->list(kTask) == ids({3, 2, 1}));

  auto two = store->read(kTask, CheckpointId(2));
  REQUIRE(two.ok());
  CHECK(*two == snapshot_for(kTask, 2));
  auto latest = store->load_latest_valid(kTask);
  REQUIRE(latest.ok());
  REQUIRE(latest->has_value());
  CHECK(**latest == snapshot_for(kTask, 3));

  // Other tasks are separate.
  const TaskId other{"q1", PartitionId(4)};
  CHECK(store->list(other)->empty());
  REQUIRE(store->write(snapshot_for(other, 9)).ok());
  CHECK(*store->list(other) == ids({9}));
  CHECK(*store->list(kTask) == ids({3, 2, 1}));

  // Rewriting an id replaces it atomically.
  Snapshot changed = snapshot_for(kTask, 3);
  changed.sections[0].second = "rewritten";
  REQUIRE(store->write(changed).ok());
  CHECK(*store->read(kTask, CheckpointId(3)) == changed);
}

TEST_CASE("directory store: retention keeps the newest K", "[checkpoint][directory]") {
  TempDir dir;
  auto store = open_store(dir.path());
  for (int64_t id = 1; id <= 5; ++id) REQUIRE(store->write(snapshot_for(kTask, id)).ok());
  auto removed = store->retain(kTask);  // default: 2
  REQUIRE(removed.ok());
  CHECK(*removed == 3);
  CHECK(*store->list(kTask) == ids({5, 4}));
  CHECK(*store->retain(kTask, 2) == 0);
  CHECK(*store->retain(kTask, 1) == 1);
  CHECK(*store->list(kTask) == ids({5}));
  CHECK(*store->retain(kTask, 0) == 0);  // keeping none is refused: nothing deleted
  CHECK(*store->list(kTask) == ids({5}));
  CHECK(*store->retain(TaskId{"unknown", PartitionId(0)}, 2) == 0);
}

TEST_CASE("directory store: a corrupt newest checkpoint falls back to the previous",
          "[checkpoint][directory]") {
  TempDir dir;
  auto store = open_store(dir.path());
  for (int64_t id = 1; id <= 3; ++id) REQUIRE(store->write(snapshot_for(kTask, id)).ok());
  const std::string newest = store->file_path(kTask, CheckpointId(3));

  SECTION("a flipped byte in the state itself") {
    // The body ends with the last section's bytes, `incremental` (1 byte),
    // `base` (1 byte), then the 8-byte checksum: this flips the last state
    // byte, which still parses, so only the checksum can catch it.
    std::string bytes = slurp(newest);
    REQUIRE(bytes[bytes.size() - 11] == '3');
    bytes[bytes.size() - 11] ^= 0x01;
    overwrite(newest, bytes);
  }
  SECTION("truncated") {
    const std::string bytes = slurp(newest);
    overwrite(newest, bytes.substr(0, bytes.size() - 5));
  }
  SECTION("empty") {
    overwrite(newest, "");
  }
  SECTION("another task's checkpoint under this name") {
    overwrite(newest, slurp(store->file_path(kTask, CheckpointId(2))));
  }

  auto read = store->read(kTask, CheckpointId(3));
  REQUIRE_FALSE(read.ok());
  CHECK(read.error().kind == ErrorKind::Data);
  CHECK_THAT(read.error().message, Catch::Contains(newest));

  auto latest = store->load_latest_valid(kTask);
  REQUIRE(latest.ok());
  REQUIRE(latest->has_value());
  CHECK(**latest == snapshot_for(kTask, 2));

  // The damaged checkpoint does not count as one of the two kept: the last
  // good one before it survives the next write's retention.
  REQUIRE(store->write(snapshot_for(kTask, 4)).ok());
  REQUIRE(store->retain(kTask, 2).ok());
  CHECK(*store->list(kTask) == ids({4, 3, 2}));
  REQUIRE(store->write(snapshot_for(kTask, 5)).ok());
  REQUIRE(store->retain(kTask, 2).ok());
  CHECK(*store->list(kTask) == ids({5, 4}));
}

TEST_CASE("directory store: every checkpoint damaged means no restore point",
          "[checkpoint][directory]") {
  TempDir dir;
  auto store = open_store(dir.path());
  for (int64_t id = 1; id <= 2; ++id) REQUIRE(store->write(snapshot_for(kTask, id)).ok());
  for (int64_t id = 1; id <= 2; ++id) overwrite(store->file_path(kTask, CheckpointId(id)), "junk");
  auto latest = store->load_latest_valid(kTask);
  REQUIRE(latest.ok());
  CHECK_FALSE(latest->has_value());
}

TEST_CASE("directory store: stray files are ignored, dead writers' temp files cleaned at open",
          "[checkpoint][directory]") {
  TempDir dir;
  {
    auto store = open_store(dir.path());
    REQUIRE(store->write(snapshot_for(kTask, 1)).ok());
    const std::string task_dir = store->task_dir(kTask);
    // Temp files of writers that are gone: no pid reaches 999999999 (Linux
    // caps pids at 2^22), our own pid means an earlier incarnation of this
    // process, and a name without a pid is not ours to keep.
    overwrite(task_dir + "/00000000000000000002.ckpt.tmp.999999999", "partial");
    overwrite(task_dir + "/00000000000000000003.ckpt.tmp." + std::to_string(::getpid()), "x");
    overwrite(task_dir + "/00000000000000000004.ckpt.tmp.garbage", "x");
    // A temp file of a live writer (pid 1 always runs) is left alone.
    overwrite(task_dir + "/00000000000000000005.ckpt.tmp.1", "in progress");
    overwrite(task_dir + "/notes.txt", "not a checkpoint");
    CHECK(*store->list(kTask) == ids({1}));
    CHECK((*store->load_latest_valid(kTask))->id == CheckpointId(1));
  }
  auto reopened = open_store(dir.path());
  CHECK(reopened->cleaned_temp_files() == 3);
  CHECK(files_in(reopened->task_dir(kTask)) ==
        std::vector<std::string>{"00000000000000000001.ckpt", "00000000000000000005.ckpt.tmp.1",
                                 "notes.txt"});
}

TEST_CASE("directory store: bad task names and ids are refused", "[checkpoint][directory]") {
  TempDir dir;
  auto store = open_store(dir.path());
  for (const std::string& query : {std::string(""), std::string("../escape"), std::string("a/b")}) {
    auto written = store->write(snapshot_for(TaskId{query, PartitionId(0)}, 1));
    REQUIRE_FALSE(written.ok());
    CHECK(written.error().kind == ErrorKind::Fatal);
  }
  auto negative = store->write(snapshot_for(kTask, -1));
  REQUIRE_FALSE(negative.ok());
  CHECK_THAT(negative.error().message, Catch::Contains("negative"));
  CHECK_FALSE(DirectoryStore::open("").ok());
  // A state directory that is a regular file cannot be opened.
  overwrite(dir.path() + "/file", "x");
  auto not_a_dir = DirectoryStore::open(dir.path() + "/file");
  REQUIRE_FALSE(not_a_dir.ok());
  CHECK(not_a_dir.error().kind == ErrorKind::Retriable);
}

namespace {

// Forks a child that writes checkpoint `id` with RIVULET_FAULT=`fault` and
// returns how the child ended.
int write_in_child_with_fault(DirectoryStore& store, int64_t id, const char* fault) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::setenv("RIVULET_FAULT", fault, 1);
    auto written = store.write(snapshot_for(kTask, id));
    ::_exit(written.ok() ? 0 : 1);  // reached only if the hook did not fire
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return status;
}

}  // namespace

TEST_CASE("directory store: SIGKILL after the temp file leaves the previous checkpoint newest",
          "[checkpoint][directory][fault]") {
  TempDir dir;
  auto store = open_store(dir.path());
  REQUIRE(store->write(snapshot_for(kTask, 1)).ok());
  REQUIRE(store->write(snapshot_for(kTask, 2)).ok());

  const int status = write_in_child_with_fault(*store, 3, "checkpoint-after-tmp");
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);

  // The child's fsynced temp file is there, but nobody takes it for a
  // checkpoint.
  auto names = files_in(store->task_dir(kTask));
  CHECK(names.size() == 3);
  CHECK(std::count_if(names.begin(), names.end(), [](const std::string& n) {
          return n.find(".ckpt.tmp.") != std::string::npos;
        }) == 1);
  CHECK(*store->list(kTask) == ids({2, 1}));
  auto latest = store->load_latest_valid(kTask);
  REQUIRE(latest.ok());
  REQUIRE(latest->has_value());
  CHECK(**latest == snapshot_for(kTask, 2));

  // The restarted process cleans it up.
  auto reopened = open_store(dir.path());
  CHECK(reopened->cleaned_temp_files() == 1);
  CHECK(files_in(reopened->task_dir(kTask)).size() == 2);
}

TEST_CASE("directory store: SIGKILL after the rename leaves the new checkpoint complete",
          "[checkpoint][directory][fault]") {
  TempDir dir;
  auto store = open_store(dir.path());
  REQUIRE(store->write(snapshot_for(kTask, 1)).ok());

  const int status = write_in_child_with_fault(*store, 2, "checkpoint-after-rename");
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);

  CHECK(*store->list(kTask) == ids({2, 1}));
  auto latest = store->load_latest_valid(kTask);
  REQUIRE(latest.ok());
  CHECK(**latest == snapshot_for(kTask, 2));
  CHECK(open_store(dir.path())->cleaned_temp_files() == 0);
}

TEST_CASE("directory store: an unrelated RIVULET_FAULT value does not fire",
          "[checkpoint][directory][fault]") {
  TempDir dir;
  auto store = open_store(dir.path());
  const int status = write_in_child_with_fault(*store, 1, "something-else");
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(*store->list(kTask) == ids({1}));
}
