// The checkpoint writer (checkpoint/async_writer.hpp) against a real
// directory store: writes and retention off the submitting thread, the
// may_write check, failures in the outcome, wait_idle and the destructor.
#include "checkpoint/async_writer.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>

#include "checkpoint/directory_store.hpp"
#include "support/temp_dir.hpp"

namespace {

using rivulet::CheckpointId;
using rivulet::Epoch;
using rivulet::ErrorKind;
using rivulet::Expected;
using rivulet::Offset;
using rivulet::PartitionId;
using rivulet::TopicPartition;
using rivulet::checkpoint::AsyncWriter;
using rivulet::checkpoint::CheckpointStore;
using rivulet::checkpoint::DirectoryStore;
using rivulet::checkpoint::Snapshot;
using rivulet::checkpoint::TaskId;
using rivulet::testing::TempDir;

Snapshot snapshot_of(const TaskId& task, int64_t id) {
  Snapshot s;
  s.task = task;
  s.id = CheckpointId(id);
  s.epoch = Epoch(1);
  s.created_at = 1000 * id;
  s.input_offsets[TopicPartition{"orders", task.partition}] = Offset(10 * id);
  s.sections.emplace_back("table", std::string(100, static_cast<char>('a' + id % 26)));
  return s;
}

std::unique_ptr<DirectoryStore> open_store(const std::string& root) {
  auto store = DirectoryStore::open(root);
  REQUIRE(store.ok());
  return std::move(*store);
}

AsyncWriter::Job job_for(CheckpointStore& store, Snapshot s, size_t retain = 2) {
  AsyncWriter::Job job;
  job.store = &store;
  job.snapshot = std::move(s);
  job.retain = retain;
  return job;
}

// A directory store whose writes wait until open() is called: to see what
// the writer does while a write is slow.
class GatedStore : public CheckpointStore {
 public:
  explicit GatedStore(CheckpointStore& inner) : inner_(inner), gate_(opened_.get_future()) {}
  void open() { opened_.set_value(); }
  Expected<uint64_t> write(const Snapshot& s) override {
    gate_.wait();
    return inner_.write(s);
  }
  Expected<std::vector<CheckpointId>> list(const TaskId& t) override { return inner_.list(t); }
  Expected<Snapshot> read(const TaskId& t, CheckpointId id) override { return inner_.read(t, id); }
  Expected<bool> remove(const TaskId& t, CheckpointId id) override { return inner_.remove(t, id); }

 private:
  CheckpointStore& inner_;
  std::promise<void> opened_;
  std::shared_future<void> gate_;
};

const TaskId kTask{"q1", PartitionId(2)};
const TaskId kOther{"q1", PartitionId(5)};

}  // namespace

TEST_CASE("checkpoint writer: writes and retains on its own thread, then calls on_done",
          "[checkpoint][async]") {
  TempDir dir("rivulet-async");
  auto store = open_store(dir.path());
  AsyncWriter writer;
  const auto caller = std::this_thread::get_id();
  for (int64_t id = 1; id <= 3; ++id) {
    auto job = job_for(*store, snapshot_of(kTask, id), /*retain=*/1);
    std::promise<std::thread::id> done_on;
    auto done_future = done_on.get_future();
    job.on_done = [&done_on] { done_on.set_value(std::this_thread::get_id()); };
    auto ticket = writer.submit(std::move(job));
    const auto& outcome = ticket->wait();
    REQUIRE(ticket->done());
    REQUIRE(outcome.written.ok());
    CHECK(*outcome.written > 100);  // the section and the envelope
    CHECK_FALSE(outcome.retain_error.has_value());
    CHECK(done_future.get() != caller);
    // Retention ran after the write: only the newest is left.
    auto ids = store->list(kTask);
    REQUIRE(ids.ok());
    CHECK(*ids == std::vector<CheckpointId>{CheckpointId(id)});
    auto back = store->read(kTask, CheckpointId(id));
    REQUIRE(back.ok());
    CHECK(back->sections == snapshot_of(kTask, id).sections);
    CHECK(back->input_offsets == snapshot_of(kTask, id).input_offsets);
  }
  CHECK(writer.queued() == 0);
}

TEST_CASE("checkpoint writer: a job its task may no longer write is not written",
          "[checkpoint][async]") {
  TempDir dir("rivulet-async");
  auto store = open_store(dir.path());
  AsyncWriter writer;
  auto job = job_for(*store, snapshot_of(kTask, 7));
  job.may_write = [] { return false; };  // the write lease ran out while it was queued
  auto ticket = writer.submit(std::move(job));
  const auto& outcome = ticket->wait();
  REQUIRE_FALSE(outcome.written.ok());
  CHECK(outcome.written.error().kind == ErrorKind::Retriable);
  CHECK_THAT(outcome.written.error().message, Catch::Contains("may no longer write"));
  CHECK_THAT(outcome.written.error().message, Catch::Contains("q1-2"));
  auto ids = store->list(kTask);
  REQUIRE(ids.ok());
  CHECK(ids->empty());
}

TEST_CASE("checkpoint writer: a failed write is the outcome, and nothing is removed",
          "[checkpoint][async]") {
  TempDir dir("rivulet-async");
  auto store = open_store(dir.path());
  AsyncWriter writer;
  REQUIRE(writer.submit(job_for(*store, snapshot_of(kTask, 1), 1))->wait().written.ok());
  // The task's directory becomes a file: the next write cannot create its
  // temporary file there.
  std::filesystem::path task_dir;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir.path())) {
    if (entry.is_regular_file()) task_dir = entry.path().parent_path();
  }
  REQUIRE_FALSE(task_dir.empty());
  const auto kept = task_dir.string() + ".kept";
  std::filesystem::rename(task_dir, kept);
  { std::ofstream(task_dir.string()) << "not a directory"; }
  auto ticket = writer.submit(job_for(*store, snapshot_of(kTask, 2), 1));
  const auto& outcome = ticket->wait();  // a reference into the ticket
  REQUIRE_FALSE(outcome.written.ok());
  CHECK(outcome.written.error().kind == ErrorKind::Retriable);
  CHECK_FALSE(outcome.retain_error.has_value());  // retention never ran
  std::filesystem::remove(task_dir);
  std::filesystem::rename(kept, task_dir);
  auto ids = store->list(kTask);
  REQUIRE(ids.ok());
  CHECK(*ids == std::vector<CheckpointId>{CheckpointId(1)});
}

TEST_CASE(
    "checkpoint writer: wait_idle waits for the task's writes, the destructor writes the queue",
    "[checkpoint][async]") {
  TempDir dir("rivulet-async");
  auto inner = open_store(dir.path());
  GatedStore gated(*inner);
  auto writer = std::make_unique<AsyncWriter>();
  auto first = writer->submit(job_for(gated, snapshot_of(kTask, 1)));    // held at the gate
  auto second = writer->submit(job_for(gated, snapshot_of(kOther, 1)));  // queued behind it
  CHECK(writer->queued() == 2);
  std::atomic<bool> idle{false};
  std::thread waiter([&] {
    writer->wait_idle(kOther);
    idle = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK_FALSE(first->done());
  CHECK_FALSE(second->done());
  CHECK_FALSE(idle.load());                         // kOther's write has not run yet
  writer->wait_idle(TaskId{"q1", PartitionId(9)});  // a task with nothing queued: at once
  gated.open();
  waiter.join();
  CHECK(idle.load());
  CHECK(second->done());
  CHECK(second->wait().written.ok());
  // Destroyed with a write still queued: it is written first.
  auto third = writer->submit(job_for(gated, snapshot_of(kTask, 2)));
  writer.reset();
  CHECK(third->done());
  auto ids = inner->list(kTask);
  REQUIRE(ids.ok());
  CHECK(*ids == std::vector<CheckpointId>{CheckpointId(2), CheckpointId(1)});
}

TEST_CASE("checkpoint writer: serializes the sections left to it, on its thread, then writes",
          "[checkpoint][async]") {
  TempDir dir("rivulet-async");
  auto store = open_store(dir.path());
  AsyncWriter writer;
  const auto caller = std::this_thread::get_id();
  Snapshot s = snapshot_of(kTask, 4);
  s.sections.emplace_back("later", std::string());
  std::thread::id produced_on;
  s.deferred.push_back({1, [&produced_on] {
                          produced_on = std::this_thread::get_id();
                          return std::string(5000, 'z');
                        }});
  // The store refuses a snapshot whose deferred sections were not produced.
  CHECK_FALSE(store->write(s).ok());
  auto ticket = writer.submit(job_for(*store, s));
  const auto& outcome = ticket->wait();
  REQUIRE(outcome.written.ok());
  CHECK(*outcome.written > 5000);
  CHECK(produced_on != caller);
  auto back = store->read(kTask, CheckpointId(4));
  REQUIRE(back.ok());
  REQUIRE(back->sections.size() == 2);
  CHECK(back->sections[0] == snapshot_of(kTask, 4).sections[0]);
  CHECK(back->sections[1].first == "later");
  CHECK(back->sections[1].second == std::string(5000, 'z'));
  CHECK(back->deferred.empty());

  // A section that fails to serialize is the outcome; nothing is written.
  Snapshot bad = snapshot_of(kTask, 5);
  bad.deferred.push_back({0, []() -> std::string { throw std::runtime_error("out of memory"); }});
  auto bad_ticket = writer.submit(job_for(*store, bad));  // wait() answers into the ticket
  const auto& failed = bad_ticket->wait();
  REQUIRE_FALSE(failed.written.ok());
  CHECK(failed.written.error().kind == ErrorKind::Retriable);
  CHECK_THAT(failed.written.error().message, Catch::Contains("not serialized: out of memory"));
  auto ids = store->list(kTask);
  REQUIRE(ids.ok());
  CHECK(*ids == std::vector<CheckpointId>{CheckpointId(4)});
}
